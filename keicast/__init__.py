"""keicast: demand and adoption forecasts for Japanese-style kei cars in the US under policy scenarios."""

import os

# One BLAS thread per process, set before numpy or scipy loads OpenBLAS (an analyst's own setting wins). The fits'
# linear algebra is small, so a second thread only spins: a cold run took 59 s alone and 203 s beside another run
# with OpenBLAS's default threads, and 44 s alone and 52 s beside another with one (2 cores; issue #23's note).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
