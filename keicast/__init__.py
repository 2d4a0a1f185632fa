"""keicast: demand and adoption forecasts for Japanese-style kei cars in the US under policy scenarios."""

__version__ = "0.1.0"
