"""Effect predictor: campaign statistics (A/B analysis) and effect prediction."""
