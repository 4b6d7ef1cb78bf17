"""The course's classifiers: ``fc_net`` (FullyConnectedNet, TwoLayerNet) and ``neural_net``
(the 2019/2020 assignment 1 TwoLayerNet). Import the submodule you need."""
