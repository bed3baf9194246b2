"""A tiny random-weight vision-language model (Idefics3, the SmolVLM architecture) that
vLLM's CPU build serves: real image plumbing end to end, gibberish text by design.

The model is built by the interpreter that will serve it (vLLM's venv), so the saved config
and processor files match the transformers version that reads them:

    python tests/tiny_vlm.py TOKENIZER_DIR OUT_DIR

`build_tiny_vlm` runs that in a subprocess from the application's interpreter. Only the
standard library is imported at module level.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

IMAGE_SEQ_LEN = 49  # (224 / 16)^2 patches, pixel-shuffled by scale_factor 2 -> 196 / 4
# Each image expands to <fake_token_around_image><global-img><image>*49<fake_token_around_image>.
TOKENS_PER_IMAGE = IMAGE_SEQ_LEN + 3
SPECIAL_TOKENS = [
    "<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>",
    *(f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)),
]

# ChatML; string content as is, list content part by part, one <image> per image part.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% elif part['type'] in ('image', 'image_url') %}<image>{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_vlm(tokenizer_dir: Path, out: Path, python: str, timeout: float = 300) -> Path:
    """Build the model with `python` (an interpreter with transformers and torch) into `out`."""
    result = subprocess.run(
        [python, __file__, str(tokenizer_dir), str(out)],
        capture_output=True, text=True, timeout=timeout, env=None,
    )
    if result.returncode != 0:
        raise RuntimeError(f"building the tiny VLM failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return out


def _build(tokenizer_dir: Path, out: Path) -> None:
    import torch
    from transformers import (
        AutoTokenizer,
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
        Idefics3VisionConfig,
        LlamaConfig,
    )

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS})
    tokenizer.chat_template = CHAT_TEMPLATE
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    vision = Idefics3VisionConfig(
        hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=2,
        image_size=224, patch_size=16,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=64, tie_word_embeddings=True,
        max_position_embeddings=4096, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    config = Idefics3Config(
        vision_config=vision.to_dict(), text_config=text.to_dict(), image_token_id=image_token_id,
        scale_factor=2, tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    Idefics3ForConditionalGeneration(config).save_pretrained(out)
    image_processor = Idefics3ImageProcessor(
        size={"longest_edge": 224}, max_image_size={"longest_edge": 224}, do_image_splitting=False
    )
    processor = Idefics3Processor(
        image_processor=image_processor, tokenizer=tokenizer, image_seq_len=IMAGE_SEQ_LEN,
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(out)
    (out / "chat_template.jinja").write_text(CHAT_TEMPLATE, encoding="utf-8")


if __name__ == "__main__":
    _build(Path(sys.argv[1]), Path(sys.argv[2]))
