"""Tests of latens.models: shapes, training, seeding, saving, precision, distribution.

Models are narrow (`NARROW`) and data tiny so the file runs in seconds. The
mirrored-strategy check needs two logical CPU devices, which must be set
before TensorFlow initialises, so it runs this file as a script in a
subprocess (see the bottom of the file).
"""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from latens import losses, models, pipelines, runtime

NARROW = {"filters": (4, 4, 4), "convs_per_block": 1, "dense_units": (16,)}
KINDS = ("cae", "vae", "tsne")


def images(n, shape=(28, 28, 1), seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


NARROW_SIMCLR = {"filters": (4, 8), "convs_per_block": 1, "projection_dim": 8}


def build(kind, run_eagerly=False, **options):
    """A narrow model, compiled; eager steps skip the seconds of graph tracing."""
    if kind == "simclr":
        model = models.build_representation(kind, 16, **{**NARROW_SIMCLR, **options})
    else:
        model = models.build_autoencoder(kind, **{**NARROW, **options})
    model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=run_eagerly)
    return model


def max_weight_difference(a, b):
    return max(float(np.max(np.abs(u - v))) for u, v in zip(a.get_weights(), b.get_weights()))


@pytest.mark.parametrize("kind", KINDS)
def test_encode_and_reconstruction_error_shapes(kind):
    x = images(70)
    model = build(kind, latent_dim=3)
    z = model.encode(x, batch_size=32)
    errors = model.reconstruction_error(x, batch_size=32)
    assert z.shape == (70, 3) and z.dtype == np.float32
    assert errors.shape == (70,) and errors.dtype == np.float32
    assert ((errors > 0) & (errors < 1)).all()
    # uint8 input is scaled to [0, 1]: the same as passing the floats.
    np.testing.assert_allclose(model.encode(x.astype(np.float32) / 255.0), z, rtol=1e-5, atol=1e-6)
    reconstruction = np.asarray(model(x[:5].astype(np.float32) / 255.0))
    expected = np.mean(np.abs(x[:5] / 255.0 - reconstruction), axis=(1, 2, 3))
    np.testing.assert_allclose(errors[:5], expected, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_fit_one_epoch(kind):
    model = build(kind)
    before = [w.copy() for w in model.get_weights()]
    dataset = pipelines.make_dataset(images(128), batch_size=64, shuffle=True, drop_remainder=True)
    history = model.fit(dataset, validation_data=dataset, epochs=1, verbose=0, shuffle=False).history
    assert set(history) == set(model.loss_names) | {f"val_{name}" for name in model.loss_names}
    logs = {name: values[0] for name, values in history.items()}
    assert all(np.isfinite(value) for value in logs.values())
    if kind == "vae":
        assert logs["loss"] == pytest.approx(logs["reconstruction"] + logs["kl"], rel=1e-5)
    if kind == "tsne":
        assert logs["loss"] == pytest.approx(
            logs["reconstruction"] + model.kl_weight * logs["tsne_kl"], rel=1e-5
        )
        assert logs["tsne_kl"] > 0
    assert any(not np.array_equal(b, a) for b, a in zip(before, model.get_weights()))


def test_model_losses_follow_the_closed_forms():
    x = images(40).astype(np.float32) / 255.0
    cae = build("cae")
    np.testing.assert_allclose(
        cae.per_example_losses(x)["loss"],
        np.mean((x - np.asarray(cae(x))) ** 2, axis=(1, 2, 3)),
        rtol=1e-5,
    )
    vae = build("vae")
    mu, log_var = vae.encoder(x)
    vae_losses = vae.per_example_losses(x)
    np.testing.assert_allclose(vae_losses["kl"], losses.gaussian_kl(mu, log_var), rtol=1e-6)
    np.testing.assert_allclose(
        vae_losses["reconstruction"], losses.binary_cross_entropy(x, vae.decoder(mu)), rtol=1e-6
    )
    tsne = build("tsne", perplexity=10.0, kl_weight=2.0)
    z = tsne.encoder(x)
    kl = losses.kl_divergence(losses.tsne_joint_p(x, 10.0), losses.student_t_q(z))
    tsne_losses = tsne.per_example_losses(x)
    assert float(np.mean(tsne_losses["tsne_kl"])) == pytest.approx(float(kl), rel=1e-5)
    np.testing.assert_allclose(
        tsne_losses["loss"], tsne_losses["reconstruction"] + 2.0 * tsne_losses["tsne_kl"], rtol=1e-6
    )


@pytest.mark.parametrize("kind", ["cae", "vae"])
def test_same_seed_gives_same_weights_after_one_step(kind):
    x = images(64).astype(np.float32) / 255.0

    def one_step(seed):
        keras.utils.set_random_seed(seed)
        model = build(kind, run_eagerly=True, **({"seed": seed} if kind == "vae" else {}))
        model.train_on_batch(x)
        return model

    first, second, other = one_step(1), one_step(1), one_step(2)
    assert max_weight_difference(first, second) == 0.0
    assert max_weight_difference(first, other) > 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_save_and_load_give_identical_encodings(kind, tmp_path):
    model = build(kind, run_eagerly=True)
    x = images(64)
    model.train_on_batch(x.astype(np.float32) / 255.0)
    model.save(tmp_path / "model.keras")
    loaded = models.load(tmp_path / "model.keras")
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.encode(x), model.encode(x))
    np.testing.assert_array_equal(loaded.reconstruction_error(x), model.reconstruction_error(x))


@pytest.mark.parametrize("kind", KINDS)
def test_kernel_initializer_reaches_every_relu_layer(kind):
    model = build(kind, kernel_initializer="he_uniform")
    relu_layers = [
        layer
        for part in (model.encoder.get_layer("encoder_body"), model.decoder)
        for layer in part.layers
        if getattr(layer, "activation", None) is keras.activations.relu
    ]
    # NARROW: 3 convs and a dense layer in the encoder; the decoder mirrors
    # them and adds the unflatten layer and 2 transposed convs.
    assert len(relu_layers) == 4 + 7
    assert all(isinstance(layer.kernel_initializer, keras.initializers.HeUniform) for layer in relu_layers)
    assert model.get_config()["kernel_initializer"] == "he_uniform"
    default = build(kind).encoder.get_layer("encoder_body").get_layer("dense1")
    assert isinstance(default.kernel_initializer, keras.initializers.GlorotUniform)


@pytest.mark.parametrize("shape", [(32, 32, 3), (64, 48, 1)])
def test_other_image_shapes(shape):
    model = build("vae", input_shape=shape)
    x = images(4, shape)
    assert np.asarray(model(x.astype(np.float32) / 255.0)).shape == (4, *shape)
    assert model.encode(x).shape == (4, 2)


def test_image_sides_must_be_multiples_of_the_downsampling():
    with pytest.raises(ValueError, match="multiples of 4"):
        models.build_autoencoder("cae", input_shape=(30, 30, 1), **NARROW)
    with pytest.raises(ValueError, match="unknown auto-encoder 'pca'"):
        models.build_autoencoder("pca")


def test_paper_architecture():
    model = models.build_autoencoder("cae")
    body = model.encoder.get_layer("encoder_body")
    convs = [layer.filters for layer in body.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs == [64] * 3 + [32] * 6
    assert body.get_layer("flatten").output.shape == (None, 7 * 7 * 32)
    assert [layer.units for layer in body.layers if isinstance(layer, keras.layers.Dense)] == [1024, 1024]
    assert model.encoder.output.shape == (None, 2)
    assert model.encoder.get_layer("code").activation is keras.activations.linear
    upsampling = [
        layer for layer in model.decoder.layers if isinstance(layer, keras.layers.Conv2DTranspose)
    ]
    assert [(layer.kernel_size, layer.strides) for layer in upsampling] == [((2, 2), (2, 2))] * 2
    assert model.decoder.layers[-1].kernel_size == (1, 1)


def test_encoder_body_is_reusable_by_a_classifier():
    body = models.build_encoder_body((28, 28, 1), **NARROW)
    classifier = keras.Sequential([body, keras.layers.Dense(10, activation="softmax")])
    assert classifier(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 10)


@pytest.mark.parametrize("kind", ["vae", "tsne"])
def test_losses_and_codes_stay_float32_under_mixed_precision(kind):
    x = images(40).astype(np.float32) / 255.0
    with runtime.precision_policy("mixed_bfloat16"):
        options = {"perplexity": 10.0} if kind == "tsne" else {}
        model = build(kind, run_eagerly=True, **options)
        assert model.encoder.get_layer("encoder_body").layers[1].compute_dtype == "bfloat16"
        assert model.decoder(np.zeros((1, 2), np.float32)).dtype == "float32"
        assert model.encode(x).dtype == np.float32
        assert all(v.dtype == "float32" for v in model.per_example_losses(x, training=True).values())
        logs = model.train_on_batch(x, return_dict=True)
    assert keras.config.dtype_policy().name == "float32"
    assert all(np.isfinite(value) for value in logs.values())


def test_auto_precision_follows_the_hardware(monkeypatch, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 fma amx_bf16 amx_tile\n")
    assert runtime.cpu_has_amx(cpuinfo) and runtime.cpu_has_bfloat16(cpuinfo)
    cpuinfo.write_text("flags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert runtime.cpu_has_bfloat16(cpuinfo) and not runtime.cpu_has_amx(cpuinfo)
    cpuinfo.write_text("flags\t\t: fpu avx2 fma\n")
    assert not runtime.cpu_has_amx(cpuinfo) and not runtime.cpu_has_bfloat16(cpuinfo)
    assert not runtime.cpu_has_bfloat16(tmp_path / "missing")
    monkeypatch.setattr(runtime, "cpu_has_bfloat16", lambda: True)
    assert runtime.resolve_precision("auto") == "mixed_bfloat16"
    monkeypatch.setattr(runtime, "cpu_has_bfloat16", lambda: False)
    assert runtime.resolve_precision("auto") == "float32"
    assert runtime.resolve_precision("mixed_float16") == "mixed_float16"


def test_mirrored_strategy_on_two_cpus_matches_one_device():
    result = subprocess.run(
        [sys.executable, __file__, "mirrored"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    for kind in (*KINDS, "simclr"):
        single, mirrored = report[kind]["evaluate"]
        assert mirrored == pytest.approx(single, rel=1e-5), kind
    single, mirrored = report["cae"]["fit"]
    assert mirrored == pytest.approx(single, rel=1e-5)
    assert report["cae"]["weight_difference"] < 1e-6
    assert report["vae"]["replica_noise_differs"]


def mirrored_report():
    """Runs the three models on one device and mirrored on two logical CPUs.

    Returns, for each kind, the evaluation loss of the same 128 images on one
    device and mirrored; for the CAE also the loss of a one-epoch fit and the
    largest difference between the two sets of weights after it; for the VAE
    whether the two replicas draw different noise. The t-SNE
    loss is per replica (P and Q over each replica's share), and so is
    SimCLR's (each replica contrasts its own share), so their single-device
    references evaluate batches of 64, the per-replica size of the mirrored
    global batch of 128.
    """
    runtime.split_cpu(2)
    strategies = {name: runtime.make_strategy(name) for name in ("default", "mirrored")}
    x = images(128)
    report = {"replicas": strategies["mirrored"].num_replicas_in_sync}
    trained = {}
    for kind in (*KINDS, "simclr"):
        report[kind] = {"evaluate": []}
        for name, strategy in strategies.items():
            keras.utils.set_random_seed(0)
            with strategy.scope():
                model = trained[kind, name] = build(kind)
            eval_batch = 64 if kind in ("tsne", "simclr") and name == "default" else 128
            dataset = pipelines.make_dataset(x, batch_size=eval_batch)
            logs = model.evaluate(dataset, verbose=0, return_dict=True)
            report[kind]["evaluate"].append(logs["loss"])
            if kind == "cae":
                dataset = pipelines.make_dataset(x, batch_size=64)
                history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)
                report[kind].setdefault("fit", []).append(history.history["loss"][0])
    report["cae"]["weight_difference"] = max_weight_difference(
        trained["cae", "default"], trained["cae", "mirrored"]
    )
    mirrored, vae = strategies["mirrored"], trained["vae", "mirrored"]
    zeros = np.zeros((4, 2), np.float32)
    draws = mirrored.experimental_local_results(mirrored.run(lambda: vae.sample(zeros, zeros)))
    report["vae"]["replica_noise_differs"] = bool(np.any(np.asarray(draws[0]) != np.asarray(draws[1])))
    return report


if __name__ == "__main__" and sys.argv[1:] == ["mirrored"]:
    print(json.dumps(mirrored_report()))


@pytest.mark.parametrize("kind, bernoulli", [("cae", False), ("vae", True), ("tsne", True)])
def test_reconstruction_is_linear_for_the_cae_and_bernoulli_means_otherwise(kind, bernoulli):
    model = build(kind)
    x = images(6).astype(np.float32) / 255.0
    outputs = np.asarray(model.decoder(model.encoder(x)[0] if kind == "vae" else model.encoder(x)))
    expected = 1.0 / (1.0 + np.exp(-outputs)) if bernoulli else outputs
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-5, atol=1e-6)
