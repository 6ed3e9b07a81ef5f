"""Every size limit of the engine, in one place. The server reads them from here (and its settings may lower them)."""

MAX_HIDDEN_LAYERS = 8
MAX_NEURONS = 64
MAX_INPUTS = 64
MAX_OUTPUTS = 10
MAX_BATCH = 2000
MAX_CUSTOM_ROWS = 2000
MAX_SAMPLES = 2000
MIN_SAMPLES = 10
MAX_GRID_RESOLUTION = 128
VANISHING_NORM = 1e-6
EXPLODING_NORM = 1e3
