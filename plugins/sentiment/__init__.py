"""The sentiment plugin: review polarity (fast classifier), aspects with quoted evidence
(shared model), batch reports with plots, and reply drafts for negative reviews."""
