"""Flags made from config dataclasses: each entry point's flag defaults are its config's defaults."""

import dataclasses

import pytest
from absl import flags

from latens import flagconfig, train
from latens.research import choice_check, grid, quickstart, stop_check
from latens.select import folder


def parsed(config_cls, *argv, **options):
    values = flags.FlagValues()
    names = flagconfig.define_flags(config_cls, flag_values=values, **options)
    values(["program", *argv])
    return values, names


@pytest.mark.parametrize("config_cls", [
    grid.GridConfig, train.TrainConfig, folder.ChoiceConfig, quickstart.QuickstartConfig, stop_check.StopCheckConfig,
    choice_check.ChoiceCheckConfig,
])
def test_without_flags_every_entry_point_builds_its_default_config(config_cls):
    values, names = parsed(config_cls)
    assert flagconfig.from_flags(config_cls, flag_values=values) == config_cls()
    dict_fields = {f.name for f in dataclasses.fields(config_cls) if f.type in ("dict", dict)}
    assert not dict_fields & set(names)


def test_nested_configs_get_prefixed_flags_and_each_type_parses():
    values, names = parsed(grid.GridConfig, "--sizes=20,100", "--n_clusters=7", "--classifier_stop=converged",
                           "--classifier_val_size=none", "--classifier_filters=8,4", "--aes=vae",
                           exclude=("classifier_precision",))
    assert "classifier_stop" in names and "classifier_precision" not in names and "ae_options" not in names
    config = flagconfig.from_flags(grid.GridConfig, flag_values=values, exclude=("classifier_precision",))
    assert config.sizes == (20, 100) and config.n_clusters == 7 and config.aes == ("vae",)
    assert config.classifier.stop == "converged" and config.classifier.val_size is None
    assert config.classifier.filters == (8, 4)


def test_choices_become_enum_flags_and_bad_values_are_refused():
    with pytest.raises(flags.IllegalFlagValueError, match="precision"):
        parsed(train.TrainConfig, "--precision=float64")
    with pytest.raises(flags.IllegalFlagValueError, match="expected a int"):
        parsed(train.TrainConfig, "--epochs=many")


def test_a_configs_message_names_flags_only_on_the_command_line():
    message = "ae=tsne needs batch_size above 31; lower image_size, or use another ae, n = 5"
    assert flagconfig.flag_syntax(message, folder.ChoiceConfig) == (
        "--ae=tsne needs --batch_size above 31; lower --image_size, or use another ae, n = 5")


def test_help_comes_from_the_attribute_docs():
    docs = flagconfig.attribute_docs(folder.ChoiceConfig)
    assert docs["fit"] == "how images become square: stretch (keep all content), crop (centre), pad (black borders)."
    values, _ = parsed(folder.ChoiceConfig)
    assert values["fit"].help.endswith(docs["fit"])


def test_a_nested_configs_flags_default_to_its_fields_default_not_its_classes():
    # The check's classifier stops once converged; ClassifierConfig's own default trains every epoch.
    values, _ = parsed(choice_check.ChoiceCheckConfig)
    assert values["classifier_stop"].default == "converged"
    assert flagconfig.from_flags(choice_check.ChoiceCheckConfig, flag_values=values).classifier.stop == "converged"
    values, names = parsed(choice_check.ChoiceCheckConfig, "--classifier_epochs=3", exclude=("classifier_stop",))
    assert "classifier_stop" not in names
    config = flagconfig.from_flags(choice_check.ChoiceCheckConfig, flag_values=values, exclude=("classifier_stop",))
    assert config.classifier.stop == "converged" and config.classifier.epochs == 3
