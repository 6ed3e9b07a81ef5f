"""Every size limit of the engine, in one place. The server reads them from here (and its settings may lower them)."""

MAX_HIDDEN_LAYERS = 8
MIN_NEURONS = 1
MAX_NEURONS = 64
MAX_INPUTS = 64
MAX_OUTPUTS = 10
MAX_CLASSES = 10
MAX_BATCH = 2000
MAX_CUSTOM_ROWS = 2000
MIN_CUSTOM_ROWS = 2  # one to train on and one to test
MAX_SAMPLES = 2000
MIN_SAMPLES = 10
MIN_TRAIN_FRACTION = 0.1
MAX_TRAIN_FRACTION = 0.9
MAX_SEED = 2**31 - 1
MAX_LEARNING_RATE = 10.0
MAX_REGULARIZATION_RATE = 10.0
MAX_GRID_RESOLUTION = 128
VANISHING_NORM = 1e-6
EXPLODING_NORM = 1e3
# the size of a weight or bias a run is given (an import, a weight edit) and of an input or target of a user's data:
# 1e6 is far beyond any value a run of this size learns or needs; near 1e308 the first step overflows and a plot
# of the data has no finite range
MAX_ABS_VALUE = 1e6
