"""tf.data pipelines: dtype and range, deterministic shuffles, whole epochs; resumable epoch order; streamed batches."""

import numpy as np
import pytest

from latens import pipelines
from latens.models.base import map_batches


def _collect(ds):
    return [tuple(np.asarray(t) for t in b) if isinstance(b, tuple) else np.asarray(b) for b in ds]


def test_pipeline_dtype_range_and_batches():
    x = np.arange(10 * 4 * 4, dtype=np.uint8).reshape(10, 4, 4, 1) * 1
    x[0] = 255
    batches = _collect(pipelines.make_dataset(x, batch_size=4))
    assert [b.shape[0] for b in batches] == [4, 4, 2]
    images = np.concatenate(batches)
    assert images.dtype == np.float32 and images.min() >= 0.0 and images.max() == 1.0
    np.testing.assert_allclose(images, x / 255.0, rtol=1e-6)
    assert [b.shape[0] for b in _collect(pipelines.make_dataset(x, batch_size=4, drop_remainder=True))] == [4, 4]


def test_pipeline_shuffle_is_deterministic_and_reshuffles():
    x = np.arange(64, dtype=np.uint8).reshape(64, 1, 1, 1)
    y = np.arange(64)

    def order(seed):
        ds = pipelines.make_dataset(x, y, batch_size=64, shuffle=True, seed=seed, repeat=True)
        it = iter(ds)
        return [next(it)[1].numpy().tolist() for _ in range(2)]

    first, again, other = order(1), order(1), order(2)
    assert first == again
    assert first != other
    assert first[0] != first[1] and sorted(first[0]) == list(range(64))


def test_pipeline_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size must be positive"):
        pipelines.make_dataset(np.zeros((2, 1, 1, 1), np.uint8), batch_size=0)


def test_pipeline_repeat_keeps_epochs_whole():
    x = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1)
    ds = pipelines.make_dataset(x, np.arange(10), batch_size=4, shuffle=True, seed=0, repeat=True)
    batches = [b[1].numpy() for b in ds.take(6)]
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2]
    first, second = np.concatenate(batches[:3]), np.concatenate(batches[3:])
    assert sorted(first) == sorted(second) == list(range(10))
    assert first.tolist() != second.tolist()


def test_epoch_batches_depend_on_the_seed_and_the_epoch_alone():
    x = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1)

    def first(count, **options):
        batches = pipelines.make_epoch_batches(x, batch_size=4, **options).take(count)
        return [np.rint(b.numpy().ravel() * 255).astype(int).tolist() for b in batches]

    whole = first(6, seed=3)
    assert [len(b) for b in whole] == [4] * 6  # Two full batches an epoch, the last 2 images dropped.
    assert first(2, seed=3, first_epoch=1) == whole[2:4]  # A resumed run sees what an uninterrupted one does.
    assert first(2, seed=4) != whole[:2]


def test_streamed_batches_keep_order_dtype_and_a_short_last_batch(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.arange(10 * 3, dtype=np.uint8).reshape(10, 3))
    x = np.load(path, mmap_mode="r")
    batches = [batch.numpy() for batch in pipelines.stream_batches(x, 4)]
    assert [len(batch) for batch in batches] == [4, 4, 2]
    assert batches[0].dtype == np.uint8
    np.testing.assert_array_equal(np.concatenate(batches), x)


def test_map_batches_gathers_every_batch_in_order_with_a_progress_bar(capsys):
    x = np.arange(7, dtype=np.float32)[:, None]
    result = map_batches(lambda batch: batch * 2, x, 3, progress=True, desc="doubling")
    np.testing.assert_array_equal(result, 2 * x)
    assert "doubling" in capsys.readouterr().err
    with pytest.raises(ValueError, match="x is empty"):
        map_batches(lambda batch: batch, x[:0], 3)
