"""The recommender plugin: collaborative, content and need signals fused, with checked reasons."""
