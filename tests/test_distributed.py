"""latens.distributed and `distribute="multiworker"`: two CPU workers train one model in step, then embed in shards."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from latens import distributed, models, runtime, sampling

WORKER = textwrap.dedent("""
    import sys
    import keras
    import numpy as np
    from latens import data, distributed, models, train

    workdir, codes = sys.argv[1], sys.argv[2]
    x = np.random.default_rng(0).integers(0, 256, (203, 16, 16, 1), dtype=np.uint8)
    nothing = x[:0]
    splits = data.Splits("tiny", (x, None), (nothing, None), (nothing, None), ())
    config = train.TrainConfig(ae="cae", epochs=2, batch_size=32, precision="float32", distribute="multiworker",
                               model_options={"filters": [4, 4, 4], "convs_per_block": 1, "dense_units": [16]})
    keras.utils.set_random_seed(0)
    files = train.train(config, workdir, splits=splits, verbose=0)
    distributed.embed_shard(models.load(files.model), x, codes)
    print(files.workdir)
""")


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_one_model_and_their_shards_merge_into_every_images_codes(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    workers = []
    try:
        for index in range(2):
            task = {"cluster": cluster, "task": {"type": "worker", "index": index}}
            environ = {**os.environ, "TF_CONFIG": json.dumps(task), "CUDA_VISIBLE_DEVICES": ""}
            command = [sys.executable, str(script), str(tmp_path / "run"), str(tmp_path / "codes")]
            workers.append(subprocess.Popen(command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            text=True))
        outputs = [worker.communicate(timeout=300) for worker in workers]
    finally:  # A worker left waiting for the other (a failed start) must not outlive the test.
        for worker in workers:
            worker.kill()
    for worker, (_, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr[-3000:]
    chief, other = (out.strip().splitlines()[-1] for out, _ in outputs)
    assert chief == str(tmp_path / "run") and other == str(tmp_path / "run" / ".worker-1")

    # Trained in step: the worker's model is the chief's.
    model = models.load(tmp_path / "run" / "model.keras")
    other_model = models.load(tmp_path / "run" / ".worker-1" / "model.keras")
    for mine, theirs in zip(model.get_weights(), other_model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    assert not (tmp_path / "run" / "embeddings.npz").exists()  # Each worker embeds its share instead.
    with open(tmp_path / "run" / "history.csv") as f:
        assert len(f.read().splitlines()) == 3  # A header and two epochs.

    z = distributed.merge_codes(tmp_path / "codes")
    x = np.random.default_rng(0).integers(0, 256, (203, 16, 16, 1), dtype=np.uint8)
    np.testing.assert_allclose(z, model.encode(x), rtol=1e-5, atol=1e-6)
    query = sampling.select("cluster-medoid", z.astype(np.float64), 10, seed=0)
    assert len(set(query.tolist())) == 10


@pytest.mark.parametrize("count, shards", [(10, 3), (203, 2), (5, 5), (3, 4)])
def test_shards_cover_every_image_once_in_order(count, shards):
    ranges = [distributed.shard_range(count, index, shards) for index in range(shards)]
    assert ranges[0][0] == 0 and ranges[-1][1] == count
    assert all(stop == next_start for (_, stop), (next_start, _) in zip(ranges, ranges[1:]))
    assert max(stop - start for start, stop in ranges) - min(stop - start for start, stop in ranges) <= 1
    with pytest.raises(ValueError, match=r"shard index must be in \[0, 3\), got 3"):
        distributed.shard_range(10, 3, 3)


class Doubling:
    def encode(self, x, batch_size=256, progress=False):
        return 2 * np.asarray(x, np.float32)


def test_an_empty_shard_is_written_and_merged(tmp_path):
    x = np.arange(3, dtype=np.float32)[:, None]
    for index in range(4):
        distributed.embed_shard(Doubling(), x, tmp_path, task=runtime.WorkerTask(index, 4, index == 0))
    np.testing.assert_array_equal(distributed.merge_codes(tmp_path), 2 * x)


def test_shards_of_folders_of_different_sizes_are_refused(tmp_path):
    distributed.embed_shard(Doubling(), np.zeros((10, 1), np.float32), tmp_path, task=runtime.WorkerTask(0, 2, True))
    distributed.embed_shard(Doubling(), np.zeros((7, 1), np.float32), tmp_path, task=runtime.WorkerTask(1, 2, False))
    with pytest.raises(ValueError, match="shard 1 of 2 of 7 images|folders of different sizes"):
        distributed.merge_codes(tmp_path)


def test_merging_refuses_missing_or_mixed_shards(tmp_path):
    x = np.arange(7, dtype=np.float32)[:, None]
    with pytest.raises(ValueError, match="no shard of codes"):
        distributed.merge_codes(tmp_path)
    distributed.embed_shard(Doubling(), x, tmp_path, task=runtime.WorkerTask(0, 3, True))
    distributed.embed_shard(Doubling(), x, tmp_path, task=runtime.WorkerTask(2, 3, False))
    with pytest.raises(ValueError, match=r"shards 1 of 3 are missing .*run their workers again"):
        distributed.merge_codes(tmp_path)
    distributed.embed_shard(Doubling(), x, tmp_path, task=runtime.WorkerTask(1, 3, False))
    np.testing.assert_array_equal(distributed.merge_codes(tmp_path), 2 * x)
    distributed.embed_shard(Doubling(), x, tmp_path, task=runtime.WorkerTask(0, 2, True))
    with pytest.raises(ValueError, match="shards of different splits"):
        distributed.merge_codes(tmp_path)


def test_the_worker_task_comes_from_tf_config():
    assert runtime.worker_task({}) == runtime.WorkerTask(0, 1, True)
    cluster = {"chief": ["a:1"], "worker": ["b:1", "c:1"]}
    task = runtime.worker_task({"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}})})
    assert task == runtime.WorkerTask(2, 3, False)
    with pytest.raises(ValueError, match="TF_CONFIG must be JSON naming a cluster"):
        runtime.worker_task({"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "ps", "index": 0}})})
