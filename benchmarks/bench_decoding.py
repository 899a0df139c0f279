"""Filter decoding speed: all 500 LeNet conv3 filters at once vs one LeNet forward pass of a test batch."""

from __future__ import annotations

import numpy as np
from _timing import best_time, row

import kerasviz as kv


def decode_lenet_conv3():
    net = kv.lenet()
    batch = np.random.default_rng(0).normal(0, 50, (100, 28, 28, 1)).astype("float32")
    decode = best_time(lambda: kv.decode_filters(net, "conv3"), repeat=5)
    forward = best_time(lambda: net(batch, training=False).numpy(), repeat=5)
    response = best_time(lambda: kv.decoded_response(net, "conv3", batch), repeat=5)
    return [
        row("decode 500 LeNet conv3 filters (bicubic)", decode, "s", "< 0.5 s"),
        row("decode / one LeNet forward (batch 100)", decode / forward, "x", "", f"forward {forward * 1e3:.1f} ms"),
        row("decoded_response conv3, batch 100", response, "s", "", "includes decoding"),
    ]


BENCHMARKS = {"decoding_lenet_conv3": decode_lenet_conv3}
