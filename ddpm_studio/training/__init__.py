"""Training DDPMs on the user's images. Never imports Qt."""
