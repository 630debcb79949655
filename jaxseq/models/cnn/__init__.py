"""The CIFAR-10 tutorial's CNN classifier (issue 16): model, training on Fashion-MNIST / MNIST / CIFAR-10,
transfer learning, and the Fréchet-distance feature classifier.

    from jaxseq.models.cnn import api, frechet
    clf = api.load()                                   # shipped ckpt/cnn/fashion-mnist
    labels = clf.predict(images)                       # uint8 or [0, 1] floats, [N, 28, 28(, 1)]
    fd = frechet.frechet_distance(frechet.features(samples), frechet.features(test_images))

Modules: ``model`` (init/apply/features), ``training``, ``transfer``, ``frechet``, ``api``. The package
itself imports nothing heavy, so ``from jaxseq.models.cnn import model`` stays cheap.
"""


def load(name_or_path="fashion-mnist", step=None):
    """:func:`jaxseq.models.cnn.api.load`."""
    from jaxseq.models.cnn import api
    return api.load(name_or_path, step)
