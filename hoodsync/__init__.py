"""hoodsync: Ocamba Hood and Falconyte campaigns managed like infrastructure."""

__version__ = "0.1.0"
