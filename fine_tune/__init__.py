"""Fine-tuning: build Alpaca- and Vicuna-style variants (full or LoRA) of a base model, and self-instruct data.

`harness finetune --recipe alpaca|alpaca-lora|vicuna|vicuna-lora ...` (or `accelerate launch -m fine_tune ...`
on GPUs) runs `fine_tune.sft.run_finetune`; `harness self-instruct` runs `fine_tune.self_instruct`.
Heavy imports (torch, transformers, trl, peft) happen inside the functions that need them.
"""
