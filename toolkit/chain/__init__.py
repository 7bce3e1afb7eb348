"""Chains: YAML specs checked at load, the runner (LangChain Runnables), the chat router."""
