# Stand-in for Hugging Face `datasets`: only hub-loaded datasets (not the random dataset) call it.
def load_dataset(*args, **kwargs):
    raise RuntimeError("Hugging Face datasets are not available here")
