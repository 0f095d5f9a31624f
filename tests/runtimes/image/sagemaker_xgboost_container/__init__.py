"""Stand-in for the SageMaker XGBoost image's own package (script mode only); see ../README.md."""
