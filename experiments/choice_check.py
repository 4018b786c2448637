"""Measures `latens-select`'s candidate defaults on labelled images: the class counts of each choice.

    python experiments/choice_check.py --dataset=mnist_sample --out=results/choice_check/mnist_sample.json
    python experiments/choice_check.py --dataset=fashion_mnist --data_dir=../shared/datasets \
        --out=results/choice_check/fashion_mnist.json

Each candidate `<kind>[L]:<rule>` (or `<kind>[L]+<kind>[L]:<rule>`, a
joined space: `latens-select --join`) chooses n of the pool's first `count`
images with `latens.choose` (the code path of `latens-select`, its defaults
for the rest), for every seed; `--score` also trains the paper's classifier from
scratch on each choice and scores it on the test split, paired with the
random draw's:

    python experiments/choice_check.py --dataset=mnist_sample --out=results/choice_check/mnist_sample.json \
        --candidates=pca:random,simclr:cluster-medoid,cae16:cluster-medoid --seeds=0,1,2,3,4,5,6,7,8,9 --score

The flags are `latens.research.choice_check.ChoiceCheckConfig`'s. Started again, it
resumes; it prints the table of class counts (and of scores).
"""

from absl import app

from latens import flagconfig
from latens.research import choice_check

flagconfig.define_flags(choice_check.ChoiceCheckConfig)


def main(argv):
    del argv
    print(choice_check.run(flagconfig.from_flags(choice_check.ChoiceCheckConfig)))


if __name__ == "__main__":
    app.run(main)
