"""Effect predictor: campaign statistics (A/B analysis) and effect prediction."""

GROUP = "Campaign effect"  # the demo tab all effect plugins share
