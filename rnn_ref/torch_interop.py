"""Exact weight mapping between rnn_ref's layers and ``torch.nn.RNN``, ``nn.LSTM``, ``nn.GRU``.

The one module of the core that imports torch. Parameters of one direction are a dict whose
keys are the forward function's keyword arguments, so ``elman_forward(x, h0, **params)``,
``lstm_forward(x, h0, **params)`` and ``gru_forward(x, h0, **params)`` run them directly:

==========  ===================================  =========================================
layer       params                               torch (single layer, ``batch_first=True``)
==========  ===================================  =========================================
Elman       Wx (D, H), Wh (H, H), b (H,),        weight_ih_l0 = Wx.T, weight_hh_l0 = Wh.T,
            activation 'tanh' or 'relu'          bias_ih_l0 + bias_hh_l0 = b, nonlinearity
LSTM        Wx (D, 4H), Wh (H, 4H), b (4H,)      weight_ih_l0 = Wx.T, weight_hh_l0 = Wh.T,
                                                 bias_ih_l0 + bias_hh_l0 = b
GRU         Wx (D, 3H), Wh (H, 3H), bx (3H,),    weight_ih_l0 = Wx.T, weight_hh_l0 = Wh.T,
            bh (3H,)                             bias_ih_l0 = bx, bias_hh_l0 = bh
==========  ===================================  =========================================

torch stores weights as (out, in) matrices for column vectors (W x), rnn_ref as (in, out) for
row vectors (x W): hence the transposes. The gate blocks are already in torch's order (LSTM
i, f, g, o; GRU r, z, n). Going to torch, an Elman or LSTM bias goes whole into bias_ih and
bias_hh is zero; coming back, the two are summed. A GRU keeps both (the hidden bias of n sits
inside the reset product). Only torch's reset-after GRU exists, so ``reset='before'`` params
are refused. A bidirectional module holds a second set with the suffix ``_reverse``: pass
``reverse_params`` going to torch, ``reverse=True`` coming back.
"""

import numpy as np
import torch
from torch import nn

def _torch_dtype(params):
    dtype = np.result_type(params["Wx"], params["Wh"])
    return torch.float64 if dtype == np.float64 else torch.float32


def _check_same_sizes(params, reverse_params):
    for key in ("Wx", "Wh"):
        if np.shape(reverse_params[key]) != np.shape(params[key]):
            raise ValueError(
                f"reverse_params[{key!r}] has shape {np.shape(reverse_params[key])}, "
                f"expected {np.shape(params[key])} like params[{key!r}]"
            )


def _copy_in(module, kind, params, suffix):
    """Write one direction's params into the module's tensors named ``*_l0{suffix}``."""
    tensors = {name: getattr(module, f"{name}_l0{suffix}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    with torch.no_grad():
        tensors["weight_ih"].copy_(torch.from_numpy(np.asarray(params["Wx"]).T.copy()))
        tensors["weight_hh"].copy_(torch.from_numpy(np.asarray(params["Wh"]).T.copy()))
        if kind == "gru":
            tensors["bias_ih"].copy_(torch.from_numpy(np.array(params["bx"])))
            tensors["bias_hh"].copy_(torch.from_numpy(np.array(params["bh"])))
        else:
            tensors["bias_ih"].copy_(torch.from_numpy(np.array(params["b"])))
            tensors["bias_hh"].zero_()


def _copy_out(module, kind, reverse):
    """Read one direction's params (numpy arrays, the module's dtype) from the module."""
    suffix = "_reverse" if reverse else ""
    if reverse and not module.bidirectional:
        raise ValueError("reverse=True needs a bidirectional module")
    if module.num_layers != 1 or not module.bias or getattr(module, "proj_size", 0):
        raise ValueError("only single-layer modules with biases and no projection map to rnn_ref")
    get = lambda name: getattr(module, f"{name}_l0{suffix}").detach().cpu().numpy().copy()
    params = {"Wx": get("weight_ih").T.copy(), "Wh": get("weight_hh").T.copy()}
    if kind == "gru":
        params["bx"], params["bh"] = get("bias_ih"), get("bias_hh")
    else:
        params["b"] = get("bias_ih") + get("bias_hh")
    return params


def _to_torch(module_class, kind, params, reverse_params, **kwargs):
    D, G = np.shape(params["Wx"])
    H = np.shape(params["Wh"])[0]
    if G != {"rnn": 1, "lstm": 4, "gru": 3}[kind] * H:
        raise ValueError(f"Wx has shape {(D, G)}, not matching Wh of shape {np.shape(params['Wh'])} for {kind}")
    module = module_class(
        D, H, batch_first=True, bidirectional=reverse_params is not None, dtype=_torch_dtype(params), **kwargs
    )
    _copy_in(module, kind, params, "")
    if reverse_params is not None:
        _check_same_sizes(params, reverse_params)
        _copy_in(module, kind, reverse_params, "_reverse")
    return module


def to_torch_rnn(params, reverse_params=None):
    """An ``nn.RNN`` (batch_first, float64 if the weights are) computing ``elman_forward(**params)``.

    params: {"Wx" (D, H), "Wh" (H, H), "b" (H,), optional "activation" 'tanh' (default) or
    'relu'}; reverse_params: the same for the backward direction (bidirectional module), or None.
    """
    activation = params.get("activation", "tanh")
    if reverse_params is not None and reverse_params.get("activation", "tanh") != activation:
        raise ValueError("both directions of an nn.RNN share one activation")
    return _to_torch(nn.RNN, "rnn", params, reverse_params, nonlinearity=activation)


def from_torch_rnn(module, reverse=False):
    """The params {"Wx", "Wh", "b", "activation"} of one direction of an ``nn.RNN``."""
    params = _copy_out(module, "rnn", reverse)
    params["activation"] = module.nonlinearity
    return params


def to_torch_lstm(params, reverse_params=None):
    """An ``nn.LSTM`` (batch_first) computing ``lstm_forward(**params)``.

    params: {"Wx" (D, 4H), "Wh" (H, 4H), "b" (4H,)}; reverse_params likewise or None.
    """
    return _to_torch(nn.LSTM, "lstm", params, reverse_params)


def from_torch_lstm(module, reverse=False):
    """The params {"Wx", "Wh", "b"} of one direction of an ``nn.LSTM``."""
    return _copy_out(module, "lstm", reverse)


def to_torch_gru(params, reverse_params=None):
    """An ``nn.GRU`` (batch_first) computing ``gru_forward(**params)`` (reset after, as torch).

    params: {"Wx" (D, 3H), "Wh" (H, 3H), "bx" (3H,), "bh" (3H,)}; reverse_params likewise or None.
    """
    for p in (params, reverse_params or {}):
        if p.get("reset", "after") != "after":
            raise ValueError("torch's GRU applies the reset gate after the product (reset='after') only")
    return _to_torch(nn.GRU, "gru", params, reverse_params)


def from_torch_gru(module, reverse=False):
    """The params {"Wx", "Wh", "bx", "bh"} of one direction of an ``nn.GRU``."""
    return _copy_out(module, "gru", reverse)
