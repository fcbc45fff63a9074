# Recipes for everyday work; CI runs .ci/run.

# Run the server on the embedded default (SQLite in ./slipway-data).
run:
    cargo run --release -p slipway -- serve

# Every test in the workspace (README's test command).
test:
    cargo test --workspace --locked

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Benchmarks; figures go into docs/benchmarks.md.
bench:
    cargo run --release -p slipway-exec --example bench_dispatch -- --runs 2000
    cargo run --release -p slipway-store --example bench_store
    cargo run --release -p slipway-git --example bench_git
    cargo build --release -p slipway --bin slipway --example bench_http
    target/release/examples/bench_http

# Schemathesis against a freshly started server (installs itself into
# .venv-fuzz/): `just fuzz` for a long run, `just fuzz 10 120` for a short one.
fuzz examples="200" seconds="1200":
    scripts/fuzz.sh {{examples}} {{seconds}}
