// The built-in English text the synthetic tokenizers are trained on: plain prose with common
// words, numbers, punctuation and a little dialogue, so merges look like a real vocabulary's.
#include "model/synth.h"

namespace moe {

const std::string& synthCorpus() {
    static const std::string text = R"(The morning was cold and clear, and the river ran fast under the old stone bridge.
Anna walked to the market with her brother, who carried a basket of apples and a small loaf of bread.
"Do you think it will rain later?" she asked. "The sky looks kind, but the wind is turning."
Her brother shrugged. "It always rains when we leave the windows open at home."

In the town square, people were setting up their tables. A baker sold warm rolls for 2 coins each,
a farmer offered eggs, milk and cheese, and an old man repaired shoes and clocks in the corner.
Children ran between the stalls, laughing, while a dog waited patiently for someone to drop a crumb.
The clock on the tower struck nine, then ten, and the square grew busy and loud.

A model is a set of numbers that turns one list of numbers into another. When we train a model,
we show it many examples and change the numbers a little each time, so that its answers become
better. A language model reads a piece of text, one token at a time, and predicts the next token.
The tokens are small pieces of words: common words are single tokens, while rare words are split
into several parts. Numbers such as 1, 12, 123 and 2024 are split into digits or short groups.

In a mixture of experts, each layer has many small networks called experts. A router looks at the
current token and chooses a few experts to process it, for example 2 out of 8, or 8 out of 64.
The chosen experts run, their outputs are weighted by the router's probabilities, and the results
are added together. Because only a few experts run for each token, the model can be large while
each step stays fast. Some models also have a shared expert that every token uses.

The teacher wrote three questions on the board. What is the capital of the country? How many days
are there in a year? Why does the moon change its shape during the month? The students thought
about the answers, wrote them down, and then talked about them with each other in small groups.
One student said that the moon does not really change; we only see a different part of it lit by
the sun. Another said that a year has 365 days, except for leap years, which have 366.

Later that afternoon, the weather changed. Dark clouds came over the hills and the first drops of
rain fell on the roofs. Anna and her brother hurried home along the river path, past the mill and
the small white church. When they arrived, the windows were open, the curtains were wet, and the
cat was sleeping on the warm kitchen table as if nothing had happened at all.

"I told you," said her brother, and they both laughed.

Good software is written for people to read. It uses clear names, small functions and short files,
and it explains why something is done rather than what the next line does. Tests check that the
program still works after every change, and errors are reported with messages that say what went
wrong and where. A careful programmer reads the code again the next day, with fresh eyes, and
often finds a simpler way to say the same thing.

There were 7 boats in the harbour, 3 red and 4 blue. The fishermen left at 5 in the morning and came
back at noon with their nets full. They sold the fish on the quay, cleaned the boats, and sat in the
sun to mend the nets for the next day. In the evening the lights of the village shone on the water,
and the sound of music came from the open door of the inn.

Hello! How are you today? I am fine, thank you. Could you help me with a question about my garden?
Of course. The tomatoes need water every day when it is hot, and the roses like a little shade in
the afternoon. Plant the beans near the fence, so that they can climb, and keep the soil loose.
Thank you very much. You are welcome; let me know how the garden grows.
)";
    return text;
}

}  // namespace moe
