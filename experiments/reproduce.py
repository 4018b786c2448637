"""Runs the paper's Table 1 grid (or any part of it), resumably, and prints the table.

    python experiments/reproduce.py --datasets=mnist,mnist+unbalanced --sizes=100,1000 \
        --data_dir=/path/to/mnist --workdir=results/table1

Every stage is cached under --workdir (see `latens.reproduce`): started again
after a kill, it continues where it stopped. `--table_only` prints Table 1
from the saved results without running anything.
"""

from absl import app, flags, logging

from latens import evaluate, reproduce, runtime
from latens.sampling import STRATEGIES

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/reproduce", "Where every stage is cached.")
flags.DEFINE_list(
    "datasets", ["mnist", "mnist+unbalanced"],
    "Datasets (mnist, fashion_mnist, mnist_sample), each optionally with +unbalanced.",
)
flags.DEFINE_string("data_dir", None, "Folder of the datasets' IDX files (default: download).")
flags.DEFINE_list("sizes", ["100", "1000"], "Query sizes n, run in this order.")
flags.DEFINE_list("aes", list(reproduce.AUTOENCODERS), "Auto-encoders whose codes are sampled.")
flags.DEFINE_list(
    "strategies", list(reproduce.PAPER_BASELINES + reproduce.PAPER_STRATEGIES),
    f"Strategies (rows), from: {', '.join(STRATEGIES)}.",
)
flags.DEFINE_bool("deterministic", False, "Add the deterministic strategies beyond the paper as rows.")
flags.DEFINE_integer("seeds", 5, "Seeds per cell: 0, 1, ..., seeds - 1.", lower_bound=1)
flags.DEFINE_integer("first_seed", 0, "First seed.", lower_bound=0)
flags.DEFINE_enum("ae_error_ae", "cae", list(reproduce.AUTOENCODERS), "Auto-encoder ranked by ae-error.")
flags.DEFINE_integer("ae_epochs", 10, "Auto-encoder training epochs.", lower_bound=1)
flags.DEFINE_integer("ae_seed", 0, "Auto-encoder training seed.", lower_bound=0)
flags.DEFINE_integer("latent_dim", 2, "Latent dimension L.", lower_bound=1)
flags.DEFINE_integer("n_clusters", None, "Clusters of the cluster strategies (default: from the data).", lower_bound=1)
flags.DEFINE_integer("classifier_epochs", None, "Classifier epochs (default: the paper's 50,000 / n).", lower_bound=1)
flags.DEFINE_integer("val_points", 25, "Epochs at which validation accuracy is recorded.", lower_bound=1)
flags.DEFINE_integer("val_size", 2000, "Validation images used for those records (0: all).", lower_bound=0)
flags.DEFINE_enum("precision", "auto", list(runtime.PRECISIONS), "Training precision.")
flags.DEFINE_enum("distribute", "default", list(runtime.STRATEGIES), "Distribution strategy (GPU/TPU).")
flags.DEFINE_bool("table_only", False, "Only print Table 1 and its query summary from the saved results.")


def main(argv):
    del argv
    if FLAGS.table_only:
        print(reproduce.write_table(FLAGS.workdir))
        return
    strategies = list(FLAGS.strategies)
    if FLAGS.deterministic:
        strategies += [s for s in reproduce.DETERMINISTIC_STRATEGIES if s not in strategies]
    try:
        config = reproduce.GridConfig(
            workdir=FLAGS.workdir,
            datasets=tuple(FLAGS.datasets),
            data_dir=FLAGS.data_dir,
            sizes=tuple(int(n) for n in FLAGS.sizes),
            aes=tuple(FLAGS.aes),
            strategies=tuple(strategies),
            seeds=tuple(range(FLAGS.first_seed, FLAGS.first_seed + FLAGS.seeds)),
            ae_error_ae=FLAGS.ae_error_ae,
            ae_epochs=FLAGS.ae_epochs,
            ae_seed=FLAGS.ae_seed,
            latent_dim=FLAGS.latent_dim,
            n_clusters=FLAGS.n_clusters,
            precision=FLAGS.precision,
            distribute=FLAGS.distribute,
            classifier=evaluate.ClassifierConfig(
                epochs=FLAGS.classifier_epochs,
                val_points=FLAGS.val_points,
                val_size=FLAGS.val_size or None,
                precision=FLAGS.precision,
            ),
        )
    except ValueError as e:
        raise app.UsageError(str(e)) from e
    table = reproduce.run(config)
    logging.info("Table 1 written to %s/table1.md", FLAGS.workdir)
    print(table)


if __name__ == "__main__":
    app.run(main)
