"""The paper's analyses as commands (spec §9): EDM against DDPM, and one against several denoising steps."""
