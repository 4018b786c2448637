"""Representation kinds: one specification each, and every entry point trains a kind with the spec's defaults."""

import inspect

import pytest
from absl import flags

from latens import flagconfig, models, representations, train
from latens.research import grid, study
from latens.select import choice, folder


def from_flags(config_cls, *argv, exclude=()):
    """The config an entry point builds from its command line (its flags defined as its script defines them)."""
    values = flags.FlagValues()
    flagconfig.define_flags(config_cls, flag_values=values, exclude=exclude)
    values(["program", *argv])
    return flagconfig.from_flags(config_cls, flag_values=values, exclude=exclude)


def study_run(config: grid.GridConfig, kind: str) -> train.TrainConfig:
    return grid.Grid(config).ae_config(config.datasets[0], kind)


# Entry point -> kind -> the `TrainConfig` it trains that kind with, all else at its defaults.
ENTRY_POINTS = {
    "experiments/train_autoencoder.py": lambda kind: from_flags(train.TrainConfig, f"--ae={kind}"),
    "latens-select": lambda kind: from_flags(folder.ChoiceConfig, f"--ae={kind}").train_config("folder:x", 10**6),
    "latens.choose": lambda kind: choice.ChoiceConfig(n=100, ae=kind).train_config("array:x", 10**6),
    "experiments/reproduce.py (the grid)": lambda kind: study_run(from_flags(grid.GridConfig, f"--aes={kind}"), kind),
    "experiments/beyond.py (the study)": lambda kind: study_run(
        study.protocol_config(from_flags(study.StudyConfig, f"--representations={kind}"), "linear"), kind),
    "experiments/representations.py": lambda kind: study_run(
        from_flags(study.StudyConfig, exclude=("datasets", "sizes", "strategies", "seeds", "classifier_stop"))
        .grid_config(datasets=("mnist",)), kind),
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("kind", representations.KINDS)
def test_every_entry_point_trains_a_kind_with_its_specs_code_and_batch_size(entry, kind):
    run = ENTRY_POINTS[entry](kind)
    spec = representations.spec(kind)
    assert (run.ae, run.latent_dim, run.batch_size) == (kind, spec.latent_dim, spec.batch_size)


def test_a_kind_dependent_flag_shows_the_kinds_default_not_a_number():
    values = flags.FlagValues()
    flagconfig.define_flags(train.TrainConfig, flag_values=values)
    assert values["latent_dim"].default is None and values["batch_size"].default is None
    assert "the kind's default" in values["latent_dim"].help


def test_resolve_fills_only_what_is_not_asked_for():
    assert representations.resolve("simclr") == (128, 256)
    assert representations.resolve("vae", 16) == (16, 64)
    assert representations.resolve("pca", None, 32) == (50, 32)
    with pytest.raises(ValueError, match="unknown representation 'bert'; representation must be one of cae, vae"):
        representations.resolve("bert")


@pytest.mark.parametrize("kind", representations.KINDS)
def test_each_spec_builds_its_model_and_names_only_options_the_model_takes(kind):
    spec = representations.spec(kind)
    model = models.build_representation(kind, input_shape=(8, 8, 1), **({"seed": 0} if spec.seeded else {}))
    assert isinstance(model, models.REPRESENTATIONS[kind]) and model.latent_dim == spec.latent_dim
    # A subclass (the VAE of the CAE) passes its parent's options on.
    parameters = {name for cls in spec.model_class().__mro__ if "__init__" in vars(cls)
                  for name in inspect.signature(cls.__init__).parameters}
    assert set(spec.options) <= set(parameters), set(spec.options) - set(parameters)


def test_training_names_only_the_options_that_differ_from_the_kinds_own():
    assert representations.Training().model_options("cae") == {}
    half = representations.Training(width=0.5, kernel_initializer="he_normal")
    assert half.model_options("vae") == {"filters": (32, 16, 16), "dense_units": (512, 512),
                                         "kernel_initializer": "he_normal"}
    assert half.model_options("simclr") == {"filters": (16, 32), "kernel_initializer": "he_normal"}
    assert half.model_options("pca") == {}  # No network.
    # Further options override the settings.
    assert representations.Training(width=0.5, options={"filters": (4, 4)}).model_options("simclr") == {
        "filters": (4, 4)}


def test_train_config_of_a_training_takes_its_epochs_batch_and_options():
    run = train.TrainConfig.of("simclr", representations.Training(batch_size=32, width=0.25), dataset="x")
    assert (run.ae, run.epochs, run.batch_size, run.latent_dim) == ("simclr", 20, 32, 128)
    assert run.model_options == {"filters": (8, 16)}
    assert train.TrainConfig.of("pca", representations.Training(), dataset="x").epochs == 1


def test_image_kind_sets_the_views_of_a_contrastive_encoder_only():
    objects = representations.Training(image_kind="objects")
    options = objects.model_options("simclr")
    assert options["augmentation"]["flip"] and options["augmentation"]["rotation"] == 0
    assert options["temperature"] == 0.05
    # Digits are the model's own defaults, so runs stored before image_kind keep their configs.
    assert representations.Training(image_kind="digits").model_options("simclr") == {}
    for kind in ("cae", "vae", "tsne", "pca"):
        assert objects.model_options(kind) == {}
    # A caller changing its options does not change the next run's.
    options["augmentation"]["flip"] = False
    assert objects.model_options("simclr")["augmentation"]["flip"]
    # Every entry point's flags reach it.
    folder_run = from_flags(folder.ChoiceConfig, "--image_kind=objects").train_config("folder:x", 100)
    assert folder_run.model_options.items() >= objects.model_options("simclr").items()
    trained = study.protocol_config(from_flags(study.StudyConfig, "--simclr_image_kind=objects"), "linear")
    assert study_run(trained, "simclr").model_options == objects.model_options("simclr")
    model = models.build_representation("simclr", 8, input_shape=(8, 8, 1), seed=0,
                                         **{**objects.model_options("simclr"), "filters": (4, 4)})
    assert model.augmentation.flip and model.options["temperature"] == 0.05


def test_code_layer_reads_a_contrastive_encoders_code_before_its_relu_and_no_other_kinds():
    before = representations.Training(code_layer="pre_activation")
    assert before.model_options("simclr") == {"code_layer": "pre_activation"}
    # The kind's own layer is its default, so runs stored before code_layer keep their configs.
    assert representations.Training(code_layer="embedding").model_options("simclr") == {}
    for kind in ("cae", "vae", "tsne", "pca"):
        assert before.model_options(kind) == {}
    trained = study.protocol_config(from_flags(study.StudyConfig, "--simclr_code_layer=pre_activation"), "linear")
    assert study_run(trained, "simclr").model_options == {"code_layer": "pre_activation"}


@pytest.mark.parametrize("field, value, match", [("width", 0, "width must be positive"),
                                                 ("epochs", -1, "epochs must be positive"),
                                                 ("kernel_initializer", "ones", "kernel_initializer must be one of"),
                                                 ("image_kind", "faces", "image_kind must be one of digits, objects"),
                                                 ("code_layer", "head",
                                                  "unknown code_layer .head.; code_layer must be one of embedding, pre_activation, flatten")])
def test_training_refuses_bad_settings(field, value, match):
    with pytest.raises(ValueError, match=match):
        representations.Training(**{field: value})
