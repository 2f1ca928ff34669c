"""Applications: real tasks, trained on a laptop CPU, that show why each architecture exists.

The one part of rnn_ref besides :mod:`rnn_ref.torch_interop` that imports torch. Five tasks,
one module each, all data offline:

- :mod:`~rnn_ref.apps.charlm` (and :mod:`~rnn_ref.apps.charlm_numpy`, the same model from scratch):
  character language model of the standard library's documentation text
  (:mod:`~rnn_ref.apps.text`) against n-gram baselines (:mod:`~rnn_ref.apps.ngram`);
- :mod:`~rnn_ref.apps.sentiment`: many-to-one classification where word order decides;
- :mod:`~rnn_ref.apps.tagging`: unidirectional against bidirectional tagging, of generated
  entity sentences and of standard-library source (:mod:`~rnn_ref.apps.pytags`);
- :mod:`~rnn_ref.apps.memory`: parity and recall across a gap;
- :mod:`~rnn_ref.apps.seq2seq`: an encoder-decoder that turns English number words into
  digits, with greedy and beam decoding, with and without attention.

The character model is also measured against the strongest classical baselines: Kneser-Ney
up to order 20 (:class:`~rnn_ref.apps.ngram.HashedKneserNey`) and general-purpose compressors
(:mod:`~rnn_ref.apps.compressors`).

Each module's ``results(retrain=False)`` returns what the book shows, loading stored results
(:mod:`~rnn_ref.apps.store`) and training only what is missing. Generated corpora are in
:mod:`~rnn_ref.apps.corpora`, the torch models in :mod:`~rnn_ref.apps.models`, the shared loop in
:mod:`~rnn_ref.apps.training`, the targets table in :mod:`~rnn_ref.apps.report`, the book's
figures in :mod:`~rnn_ref.apps.figures`.
"""

from . import charlm, charlm_numpy, memory, sentiment, seq2seq, tagging

TASKS = {
    "charlm": charlm.results,
    "charlm_numpy": charlm_numpy.results,
    "sentiment": sentiment.results,
    "tagging": tagging.results,
    "memory": memory.results,
    "seq2seq": seq2seq.results,
}
