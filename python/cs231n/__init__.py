"""A drop-in for the CS231n course package ``cs231n``, computed by the Swift engine of swiftnn.

The modules have the course's paths, names, signatures and defaults (see CS231N_API.md):
``layers``, ``layer_utils``, ``classifiers.fc_net``, ``classifiers.neural_net``, ``optim``,
``solver``, ``gradient_check``, ``data_utils`` and ``vis_utils``. As in the course, this
``__init__`` imports nothing; import the submodules you need.
"""
