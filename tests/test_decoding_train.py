"""The MatConvNet LeNet recipe: a capped quick run learns, and the cache round-trips (no 20-epoch run in CI)."""

import numpy as np

import kerasviz as kv


def test_train_and_cache_lenet(mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("KERASVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("KERASVIZ_QUICK", "1")
    monkeypatch.setenv("KERASVIZ_QUICK_STEPS", "40")
    (xt, yt), (xs, ys) = mnist
    data = ((xt, yt), (xs[::4], ys[::4]))
    net = kv.load_trained_lenet(epochs=1, data=data)
    assert net.steps_per_epoch == 40 and "quick" in net.label
    assert net.test_accuracy > 0.7  # 40 SGD steps at lr 0.001 on 0-255 inputs (measured 0.78)
    np.testing.assert_allclose(net.mean[..., 0], xt.mean(0), rtol=1e-5)
    assert [p.name for p in tmp_path.iterdir()] and all("quick40" in p.name for p in tmp_path.iterdir())
    again = kv.load_trained_lenet(epochs=1, data=data)  # from the cache, no training
    x = net.prepare(xs[:16])
    assert x.shape == (16, 28, 28, 1) and abs(float(x.mean())) < 60
    np.testing.assert_allclose(again.model.predict(x, verbose=0), net.model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert again.test_accuracy == net.test_accuracy
    assert kv.weights_label(again.model) == again.label
