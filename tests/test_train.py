"""Tests of latens.train: the files of a run, resuming (to the same weights), damaged backups, blow-ups, config checks."""

import csv
import json

import keras
import numpy as np
import pytest

from latens import backup, data, models, train

NARROW = {"filters": [4, 4, 4], "convs_per_block": 1, "dense_units": [16]}


@pytest.fixture(scope="module")
def splits():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (192, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 10, 192).astype(np.int64)
    held_out = (x[128:], y[128:])
    return data.Splits("tiny", (x[:128], y[:128]), held_out, held_out, tuple("0123456789"))


def config(**overrides):
    return train.TrainConfig(
        **{"ae": "cae", "epochs": 2, "precision": "float32", "model_options": NARROW, **overrides}
    )


class EpochRecorder(keras.callbacks.Callback):
    """Remembers which epochs ran and the weights, and can kill a run after an epoch."""

    def __init__(self, fail_after_epoch=None):
        super().__init__()
        self.fail_after_epoch = fail_after_epoch
        self.epochs = []

    def on_train_begin(self, logs=None):
        # The backup is restored before training begins: these are restored.
        self.start_weights = self.model.get_weights()
        self.start_step = int(self.model.optimizer.iterations)

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.fail_after_epoch:
            self.end_weights = self.model.get_weights()
            raise KeyboardInterrupt(f"killed after epoch {epoch}")


def history_epochs(files):
    with open(files.history, newline="") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


@pytest.mark.parametrize("ae", ["vae", "tsne"])
def test_a_run_writes_its_files_and_is_not_redone(ae, splits, tmp_path):
    run = config(ae=ae, perplexity=10.0)
    files = train.train(run, tmp_path, splits=splits, verbose=0)

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "DONE", "config.json", "embeddings.npz", "history.csv", "model.keras"
    ]
    assert json.loads(files.config.read_text()) == json.loads(run.to_json())
    assert history_epochs(files) == [0, 1]
    with np.load(files.embeddings) as embeddings:
        assert sorted(embeddings.files) == ["config", "errors", "labels", "z"]
        z, errors = embeddings["z"], embeddings["errors"]
        assert z.shape == (128, 2) and z.dtype == np.float32
        assert errors.shape == (128,) and errors.dtype == np.float32
        np.testing.assert_array_equal(embeddings["labels"], splits.pool[1])
        assert embeddings["labels"].dtype == np.int64
        assert json.loads(str(embeddings["config"])) == json.loads(run.to_json())
    model = models.load(files.model)
    np.testing.assert_array_equal(model.encode(splits.pool[0]), z)
    np.testing.assert_array_equal(model.reconstruction_error(splits.pool[0]), errors)

    stamp = files.model.stat().st_mtime_ns
    recorder = EpochRecorder()
    train.train(run, tmp_path, splits=splits, callbacks=[recorder], verbose=0)
    assert recorder.epochs == [] and files.model.stat().st_mtime_ns == stamp


def test_a_run_killed_in_a_callback_before_the_backup_repeats_that_epoch(splits, tmp_path):
    run = config(epochs=3)
    with pytest.raises(KeyboardInterrupt):
        train.train(run, tmp_path, splits=splits, before_backup=[EpochRecorder(fail_after_epoch=1)], verbose=0)
    recorder = EpochRecorder()
    train.train(run, tmp_path, splits=splits, before_backup=[recorder], verbose=0)
    assert recorder.epochs == [1, 2]  # The second epoch was not final when its callback was killed.
    assert history_epochs(train.RunFiles(tmp_path)) == [0, 1, 2]


def test_an_interrupted_run_resumes_from_its_last_epoch(splits, tmp_path):
    run = config(epochs=3)
    killer = EpochRecorder(fail_after_epoch=1)
    with pytest.raises(KeyboardInterrupt):
        train.train(run, tmp_path, splits=splits, callbacks=[killer], verbose=0)
    files = train.RunFiles(tmp_path)
    assert history_epochs(files) == [0, 1]
    assert files.backup.exists() and not files.done.exists() and not files.embeddings.exists()
    first_rows = files.history.read_text().splitlines()

    recorder = EpochRecorder()
    train.train(run, tmp_path, splits=splits, callbacks=[recorder], verbose=0)
    assert recorder.epochs == [2]
    assert recorder.start_step == 4  # Two epochs of two batches of 64.
    for restored, saved in zip(recorder.start_weights, killer.end_weights):
        np.testing.assert_array_equal(restored, saved)
    assert history_epochs(files) == [0, 1, 2]
    assert files.history.read_text().splitlines()[:3] == first_rows
    assert files.done.exists() and files.embeddings.exists() and not files.backup.exists()

    recorder = EpochRecorder()
    train.train(run, tmp_path, splits=splits, callbacks=[recorder], overwrite=True, verbose=0)
    assert recorder.epochs == [0, 1, 2]


def test_a_repeated_epoch_replaces_its_history_row(tmp_path):
    # A run killed after writing epoch 1's row but before its backup repeats
    # epoch 1 when resumed.
    logger = train.EpochCSVLogger(tmp_path / "history.csv")
    logger.on_epoch_end(0, {"loss": 3.0})
    logger.on_epoch_end(1, {"loss": 2.0})
    logger.on_epoch_end(1, {"loss": 1.5})
    with open(tmp_path / "history.csv", newline="") as f:
        assert list(csv.DictReader(f)) == [{"epoch": "0", "loss": "3.0"}, {"epoch": "1", "loss": "1.5"}]


def test_a_workdir_with_another_config_is_refused(splits, tmp_path):
    train.RunFiles(tmp_path).config.write_text(config(epochs=1).to_json())
    with pytest.raises(ValueError, match=r"different config \(epochs: 1 there, 2 now\)"):
        train.train(config(epochs=2), tmp_path, splits=splits, verbose=0)


@pytest.mark.parametrize("ae", ["cae", "vae"])
def test_tsne_settings_do_not_define_other_runs(ae, splits, tmp_path):
    train.RunFiles(tmp_path).config.write_text(config(ae=ae, epochs=1, kl_weight=1.0, perplexity=5.0).to_json())
    train.RunFiles(tmp_path).done.write_text("")
    files = train.train(config(ae=ae, epochs=1), tmp_path, splits=splits, verbose=0)
    assert not files.model.exists()  # Taken as the finished run it is, not trained again.


def test_a_tsne_workdir_with_another_kl_weight_is_refused(splits, tmp_path):
    train.RunFiles(tmp_path).config.write_text(config(ae="tsne", kl_weight=1.0).to_json())
    with pytest.raises(ValueError, match=r"different config \(kl_weight: 1.0 there, 2.0 now\)"):
        train.train(config(ae="tsne", kl_weight=2.0), tmp_path, splits=splits, verbose=0)


def test_batches_too_small_for_the_tsne_perplexity_are_refused(splits, tmp_path):
    with pytest.raises(ValueError, match=r"more than perplexity \+ 1 = 31 examples per batch"):
        train.train(config(ae="tsne", batch_size=16), tmp_path, splits=splits, verbose=0)


def test_config_values_are_checked():
    with pytest.raises(ValueError, match="ae must be one of cae, vae, tsne"):
        train.TrainConfig(ae="gan")
    with pytest.raises(ValueError, match="epochs must be positive"):
        train.TrainConfig(epochs=0)


def _codes(files):
    with np.load(files.embeddings) as f:
        return f["z"], f["errors"]


@pytest.mark.parametrize("ae", ["cae", "vae"])
def test_a_killed_and_resumed_run_ends_exactly_where_an_uninterrupted_one_does(ae, splits, tmp_path):
    run = config(ae=ae, epochs=3)
    keras.utils.set_random_seed(0)
    whole = train.train(run, tmp_path / "whole", splits=splits, verbose=0)
    keras.utils.set_random_seed(0)
    with pytest.raises(KeyboardInterrupt):
        train.train(run, tmp_path / "killed", splits=splits, callbacks=[EpochRecorder(fail_after_epoch=1)], verbose=0)
    keras.utils.set_random_seed(123)  # The resumed run's own initialisation must not matter.
    resumed = train.train(run, tmp_path / "killed", splits=splits, verbose=0)
    for a, b in zip(_codes(whole), _codes(resumed)):
        np.testing.assert_array_equal(a, b)


def test_a_damaged_backup_is_reported_and_the_one_before_it_is_used(splits, tmp_path, caplog):
    run = config(epochs=3)
    keras.utils.set_random_seed(0)
    whole = train.train(run, tmp_path / "whole", splits=splits, verbose=0)
    keras.utils.set_random_seed(0)
    with pytest.raises(KeyboardInterrupt):
        train.train(run, tmp_path / "killed", splits=splits, callbacks=[EpochRecorder(fail_after_epoch=1)], verbose=0)
    backups = backup.EpochBackups(train.RunFiles(tmp_path / "killed").backup)
    assert [epoch for epoch, _ in backups.backups()] == [2, 1]
    newest = backups.backups()[0][1] / "state.weights.h5"
    newest.write_bytes(newest.read_bytes()[:100])  # Damaged on disk.
    # An unfinished backup (a kill while writing) is a hidden folder: ignored, then removed.
    (backups.folder / ".epoch-00003.abc").mkdir()

    recorder = EpochRecorder()
    resumed = train.train(run, tmp_path / "killed", splits=splits, callbacks=[recorder], verbose=0)
    assert recorder.epochs == [1, 2]
    assert any("is damaged" in r.getMessage() for r in caplog.records)
    for a, b in zip(_codes(whole), _codes(resumed)):
        np.testing.assert_array_equal(a, b)


def test_backups_keep_the_last_two_epochs(splits, tmp_path):
    class Look(keras.callbacks.Callback):
        seen = []

        def on_epoch_end(self, epoch, logs=None):
            Look.seen.append([e for e, _ in backup.EpochBackups(tmp_path / "backup").backups()])

    train.train(config(epochs=4), tmp_path, splits=splits, callbacks=[Look()], verbose=0)
    assert Look.seen == [[1], [2, 1], [3, 2], [4, 3]]


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_good_backup(splits, tmp_path):
    class Poison(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # After epoch 2's backup: its weights turn NaN.
                for variable in self.model.trainable_variables:
                    variable.assign(np.full(variable.shape, np.nan, variable.dtype))

    with pytest.raises(backup.NonFiniteLossError, match="the training loss became nan in epoch 3, batch 1"):
        train.train(config(epochs=4), tmp_path, splits=splits, callbacks=[Poison()], verbose=0)
    assert [e for e, _ in backup.EpochBackups(tmp_path / "backup").backups()] == [2, 1]
    assert not train.RunFiles(tmp_path).done.exists()


def test_a_second_process_on_the_same_workdir_waits_then_finds_the_run_done(splits, tmp_path):
    import fcntl
    import os
    import threading

    run = config(epochs=1)
    holder = os.open(tmp_path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)  # Another process is training here.
    finished = []
    waiter = threading.Thread(target=lambda: finished.append(train.train(run, tmp_path, splits=splits, verbose=0)))
    waiter.start()
    waiter.join(timeout=2)
    assert waiter.is_alive() and not finished  # It waits for the folder.
    fcntl.flock(holder, fcntl.LOCK_UN)
    os.close(holder)
    waiter.join(timeout=120)
    assert finished and finished[0].done.exists()


def test_simclr_batches_of_one_image_per_replica_are_refused(splits, tmp_path):
    # NT-Xent contrasts each image with the rest of its batch: alone, its loss is exactly 0.
    with pytest.raises(ValueError, match=r"simclr loss .* needs at least 2 examples per batch and replica, got 1"):
        train.train(config(ae="simclr", epochs=1, batch_size=1, model_options={"filters": (4, 4)}), tmp_path,
                    splits=splits, verbose=0)


class StepCounter(keras.callbacks.Callback):
    """Counts the training steps a run takes."""

    steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1


def test_a_sample_of_train_size_images_trains_and_every_image_is_embedded(splits, tmp_path):
    run = config(epochs=2, batch_size=16, train_size=40)
    counter = StepCounter()
    files = train.train(run, tmp_path, splits=splits, verbose=0, callbacks=[counter])
    assert counter.steps == 2 * (40 // 16)  # epochs * (train_size // batch), not the pool's 128 images.
    assert np.load(files.embeddings)["z"].shape == (128, 2)
    assert json.loads(files.config.read_text())["train_size"] == 40


def test_the_training_sample_is_seeded_in_pool_order_and_whole_when_large_enough():
    x = np.arange(100)[:, None]
    sample = train.training_sample(x, 30, seed=3)
    assert len(sample) == 30 and len(np.unique(sample)) == 30
    assert np.all(np.diff(sample[:, 0]) > 0)
    np.testing.assert_array_equal(sample, train.training_sample(x, 30, seed=3))
    assert not np.array_equal(sample, train.training_sample(x, 30, seed=4))
    assert train.training_sample(x, 0, seed=3) is x
    assert train.training_sample(x, 100, seed=3) is x


def test_train_size_is_stored_only_where_it_samples():
    assert "train_size" not in json.loads(config().to_json())
    assert json.loads(config(train_size=5).to_json())["train_size"] == 5
    with pytest.raises(ValueError, match="train_size must be at least 0"):
        config(train_size=-1)


def test_a_sample_smaller_than_a_batch_is_refused(splits, tmp_path):
    with pytest.raises(ValueError, match="fewer than one batch of 64"):
        train.train(config(train_size=10), tmp_path, splits=splits, verbose=0)


def test_a_cosine_schedule_decays_the_rate_to_zero_over_the_runs_steps(splits, tmp_path):
    run = config(epochs=2, batch_size=32, learning_rate_schedule="cosine")
    assert json.loads(run.to_json())["learning_rate_schedule"] == "cosine"
    assert "learning_rate_schedule" not in json.loads(config().to_json())
    assert train.train(run, tmp_path, splits=splits, verbose=0).done.exists()
    rate = train._learning_rate(run, 128 // 32)  # 2 epochs of 4 steps.
    assert float(rate(0)) == pytest.approx(1e-3) and float(rate(8)) == pytest.approx(0.0, abs=1e-9)
    assert float(rate(4)) == pytest.approx(5e-4, rel=1e-4)
    with pytest.raises(ValueError, match="learning_rate_schedule"):
        config(learning_rate_schedule="linear")
