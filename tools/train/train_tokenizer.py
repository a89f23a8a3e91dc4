#!/usr/bin/python3
"""Trains the SentencePiece BPE tokenizer of the bundled model on work/spm_input.txt.

Settings follow the llama SPM convention so GGUF runtimes (tokenizer.ggml.model = llama)
reproduce it: BPE, byte fallback, digits split, identity normalisation, whitespace kept.
No dummy prefix (the GGUF says add_space_prefix = false), so a runtime that prefixes a
space after special tokens does not diverge from SentencePiece.
Ids: 0 <unk>, 1 <s> (BOS), 2 </s> (EOS), 3 <|im_start|>, 4 <|im_end|>, then 256 bytes.
"""
import argparse
import os

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.path.join(HERE, "work"))
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--sentences", type=int, default=600000)
    args = ap.parse_args()
    spm.SentencePieceTrainer.train(
        input=os.path.join(args.work, "spm_input.txt"),
        model_prefix=os.path.join(args.work, "tokenizer"),
        model_type="bpe",
        vocab_size=args.vocab,
        character_coverage=0.9995,
        byte_fallback=True,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        remove_extra_whitespaces=False,
        add_dummy_prefix=False,
        normalization_rule_name="identity",
        user_defined_symbols=["<|im_start|>", "<|im_end|>"],
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        input_sentence_size=args.sentences,
        shuffle_input_sentence=True,
        max_sentence_length=4096,
        seed_sentencepiece_size=400000,
        num_threads=1,
        train_extremely_large_corpus=False,
        minloglevel=1,
    )
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.work, "tokenizer.model"))
    for t in ["In the beginning God created the heaven and the earth.",
              "<|im_start|>user\nTell me a fortune.<|im_end|>\n",
              "static inline int foo(void *p);\n    return 0;", "Erzähl mir einen Spruch."]:
        print([sp.id_to_piece(i) for i in sp.encode(t)])


if __name__ == "__main__":
    main()
