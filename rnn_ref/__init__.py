"""rnn_ref: the course's reference implementation of recurrent networks.

Pure numpy, batch first: ``x`` has shape (N, T, D), hidden size H, row vectors
(``x @ Wx + h @ Wh + b``). Every layer is a pair of functions,
``*_forward(...) -> (out, cache)`` and ``*_backward(dout, cache) -> grads`` with the
gradients in the order of the forward's inputs. torch appears only in
:mod:`rnn_ref.torch_interop` (and in the torch-trained models of :mod:`rnn_ref.apps`).
"""

__version__ = "0.1.0"
