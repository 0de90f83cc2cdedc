"""The Gradio chat in front of `rag.answer`."""
