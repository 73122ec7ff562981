"""Where checkpoints and artifacts come from: local folders and the Hugging Face Hub (resolution,
fingerprints, publish and fetch). huggingface_hub is imported only when the Hub is used.
"""
