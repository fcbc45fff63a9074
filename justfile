# Recipes for everyday work; CI runs .ci/run.

# Run Slipway (until the server issue lands: the embedding example).
run:
    cargo run -p slipway-exec --example embed

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
