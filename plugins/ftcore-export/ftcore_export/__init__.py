"""Export a finished ftcore run for local runtimes: ``ftcore export RUN_DIR --format gguf``.

``llama`` checks a Llama causal LM's config and lays its weights out as llama.cpp does
(hyper-parameters, tensor names, the Q/K permutation); ``vocab`` turns its byte-level BPE
tokenizer into GGUF tokenizer metadata; ``gguf_file`` writes the file atomically;
``command`` is the CLI and ``plugin`` contributes it through ``ftcore_commands``.
"""
