"""The torch models of the applications: one recurrent core, three heads.

Every model reads token ids (N, T), embeds them, runs ``nn.RNN`` (Elman, tanh), ``nn.LSTM``
(gates i, f, g, o) or ``nn.GRU`` (gates r, z, n), batch first, and maps hidden states to scores:

- :class:`CharLM`: scores for the next character at every step (many-to-many);
- :class:`Classifier`: one label per sequence from the state after its last real token
  (many-to-one);
- :class:`Tagger`: one label per token, optionally bidirectional (many-to-many, aligned).
"""

import torch
from torch import nn

CELLS = {"elman": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def recurrent_layer(cell, input_size, hidden_size, bidirectional=False, chrono_max=None,
                    layers=1, dropout=0.0):
    """``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``, batch first, ``layers`` stacked layers (default one).

    dropout: applied to the outputs of every layer but the last (torch's ``dropout``).

    chrono_max: if given, the chrono initialisation of Tallec and Ollivier (2018) for the gated
    cells. The total bias (b_ih + b_hh) of the gate that keeps the old state, the LSTM's forget
    gate f or the GRU's update gate z (torch's convention, h = (1 - z) * n + z * h_prev), is
    drawn per unit as log(u), u uniform in [1, chrono_max - 1], and the LSTM's input gate bias is
    its negative. Unit k then starts out keeping its state for about u_k steps, a spread of
    memory lengths up to chrono_max. None keeps torch's initialisation (biases near 0, which
    halves the state at every step). The Elman RNN has no gate and is left as it is.
    """
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; expected one of {sorted(CELLS)}")
    layer = CELLS[cell](input_size, hidden_size, num_layers=layers, dropout=dropout if layers > 1 else 0.0,
                        batch_first=True, bidirectional=bidirectional)
    if cell != "elman" and chrono_max is not None:
        H = hidden_size
        with torch.no_grad():
            for name, bias in layer.named_parameters():
                if name.startswith("bias_ih"):  # one direction's bias_ih holds the whole value
                    keep = torch.log(torch.empty(H).uniform_(1, chrono_max - 1))
                    bias[H:2 * H] = keep  # the second block: f of (i, f, g, o), z of (r, z, n)
                    if cell == "lstm":
                        bias[:H] = -keep
                elif name.startswith("bias_hh"):
                    bias[H:2 * H] = 0.0
                    if cell == "lstm":
                        bias[:H] = 0.0
    return layer


def detach_state(state):
    """Cut the graph behind a carried state (truncated BPTT): a tensor or an (h, c) pair."""
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


class CharLM(nn.Module):
    """Character language model: ids (N, T) -> next-character scores (N, T, V), new state.

    layers: stacked recurrent layers. dropout: drop probability (in training only) on the
    embeddings, between the layers and on the last layer's states before the output layer.
    """

    def __init__(self, vocab_size, cell="lstm", hidden_size=256, embed_size=64, layers=1, dropout=0.0):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.rnn = recurrent_layer(cell, embed_size, hidden_size, layers=layers, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids, state=None):
        hs, state = self.rnn(self.drop(self.embed(ids)), state)
        return self.out(self.drop(hs)), state


class Classifier(nn.Module):
    """Many-to-one: ids (N, T) padded, lengths (N,) -> class scores (N, K).

    The label is read from the hidden state after the last real token of each sequence.
    """

    def __init__(self, vocab_size, num_classes, cell="lstm", hidden_size=64, embed_size=32,
                 chrono_max=None):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.rnn = recurrent_layer(cell, embed_size, hidden_size, chrono_max=chrono_max)
        self.out = nn.Linear(hidden_size, num_classes)

    def forward(self, ids, lengths):
        hs, _ = self.rnn(self.embed(ids))
        last = hs[torch.arange(ids.shape[0]), lengths - 1]  # (N, H)
        return self.out(last)


class Tagger(nn.Module):
    """Many-to-many, aligned: ids (N, T) padded, lengths (N,) -> tag scores (N, T, K).

    A bidirectional tagger concatenates the forward state (words 1..t) and the backward state
    (words T..t) at every step, so its tag for a word can depend on the words after it. The
    sequences are packed, so the backward direction starts at each sequence's own last word.
    """

    def __init__(self, vocab_size, num_tags, cell="lstm", hidden_size=32, embed_size=32,
                 bidirectional=False):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.rnn = recurrent_layer(cell, embed_size, hidden_size, bidirectional)
        self.out = nn.Linear(hidden_size * (2 if bidirectional else 1), num_tags)

    def forward(self, ids, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths, batch_first=True,
                                                   enforce_sorted=False)
        hs, _ = self.rnn(packed)
        hs, _ = nn.utils.rnn.pad_packed_sequence(hs, batch_first=True, total_length=ids.shape[1])
        return self.out(hs)


class BagOfWords(nn.Module):
    """Logistic regression on word counts: ids (N, T) padded with 0 -> class scores (N, K).

    Word order is thrown away: every permutation of a review gets the same scores.
    """

    def __init__(self, vocab_size, num_classes):
        super().__init__()
        self.weights = nn.EmbeddingBag(vocab_size, num_classes, mode="sum", padding_idx=0)
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, ids, lengths=None):
        return self.weights(ids) + self.bias


class Seq2Seq(nn.Module):
    """Encoder-decoder (many-to-many, unaligned), GRU, with or without attention.

    The encoder reads the source ids (N, S), padded, lengths (N,), and its final state h_S
    starts the decoder. The decoder is a conditional language model of the target: at step t it
    reads the previous target token and a *context* vector c_t, and scores the next token from
    [state; c_t]. Without attention (Cho et al., 2014) c_t = h_S at every step: the whole
    source must pass through that one vector. With attention (Bahdanau et al., 2015) c_t is a
    weighted mean of all encoder states, with weights softmax_j(v . tanh(W s_{t-1} + U h_j))
    recomputed at every step from the decoder's previous state s_{t-1}.
    """

    def __init__(self, src_vocab, tgt_vocab, hidden_size=128, embed_size=32, attention=False):
        super().__init__()
        H = hidden_size
        self.attention = attention
        self.src_embed = nn.Embedding(src_vocab, embed_size, padding_idx=0)
        self.encoder = nn.GRU(embed_size, H, batch_first=True)
        self.tgt_embed = nn.Embedding(tgt_vocab, embed_size)
        self.decoder = nn.GRUCell(embed_size + H, H)
        if attention:
            self.att_state = nn.Linear(H, H, bias=False)
            self.att_source = nn.Linear(H, H)
            self.att_v = nn.Linear(H, 1, bias=False)
        self.out = nn.Linear(2 * H, tgt_vocab)

    def encode(self, src, lengths):
        """src (N, S), lengths (N,) -> memory: (states (N, S, H), final (N, H), mask (N, S))."""
        packed = nn.utils.rnn.pack_padded_sequence(self.src_embed(src), lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        hs, last = self.encoder(packed)
        hs, _ = nn.utils.rnn.pad_packed_sequence(hs, batch_first=True, total_length=src.shape[1])
        mask = torch.arange(src.shape[1])[None, :] < lengths[:, None]
        return hs, last[0], mask

    def step(self, token, state, memory):
        """One decoder step: previous token (N,), state (N, H) -> scores (N, V), state, weights (N, S) or None."""
        hs, final, mask = memory
        if self.attention:
            e = self.att_v(torch.tanh(self.att_state(state)[:, None] + self.att_source(hs)))[..., 0]
            weights = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=1)  # (N, S)
            context = (weights[..., None] * hs).sum(1)
        else:
            weights, context = None, final
        state = self.decoder(torch.cat([self.tgt_embed(token), context], 1), state)
        return self.out(torch.cat([state, context], 1)), state, weights

    def forward(self, src, lengths, tgt_in):
        """Teacher forcing: the decoder reads the true previous tokens tgt_in (N, T) -> scores (N, T, V)."""
        memory = self.encode(src, lengths)
        state, scores = memory[1], []
        for t in range(tgt_in.shape[1]):
            s, state, _ = self.step(tgt_in[:, t], state, memory)
            scores.append(s)
        return torch.stack(scores, 1)
