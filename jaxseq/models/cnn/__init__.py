"""The CIFAR-10 tutorial's CNN classifier (issue 16): model, training, transfer learning and the
Fréchet-distance feature classifier. See :mod:`jaxseq.models.cnn.model`."""
