//! A service's port: a TCP listener in the server that hands each
//! connection to the next ready instance (round robin) and copies bytes
//! both ways. The targets are swapped whole when a deploy or a scale
//! changes the instances; a connection already handed over stays with
//! its instance, which is stopped only once it has none left (or its
//! grace is over).

use super::instance::Instance;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How long a connection waits for a ready instance when none is.
const NO_TARGET_WAIT: Duration = Duration::from_secs(5);

/// The instances a service's connections go to.
#[derive(Debug, Default)]
pub(crate) struct Targets {
    list: RwLock<Vec<Arc<Instance>>>,
    next: AtomicUsize,
}

impl Targets {
    /// Replaces the instances.
    pub fn set(&self, instances: Vec<Arc<Instance>>) {
        *self
            .list
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = instances;
    }

    /// The next ready instance, round robin, counted as serving one more
    /// connection (under the lock, so that once [`Targets::set`] returned
    /// no connection can still go to an instance it removed); `None` when
    /// none is ready.
    fn pick(&self) -> Option<Serving> {
        let list = self
            .list
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = list.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let inst = (0..n)
            .map(|i| &list[(start + i) % n])
            .find(|inst| inst.is_ready())?;
        inst.active.fetch_add(1, Ordering::Relaxed);
        Some(Serving(inst.clone()))
    }
}

/// A listening service port; closed when dropped.
#[derive(Debug)]
pub(crate) struct Proxy {
    pub port: u16,
    closed: CancellationToken,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.closed.cancel();
    }
}

/// Listens on `bind:port` and serves `targets`.
///
/// # Errors
/// The port cannot be bound (in use: `AddrInUse`).
pub(crate) async fn listen(
    bind: IpAddr,
    port: u16,
    targets: Arc<Targets>,
) -> std::io::Result<Proxy> {
    let listener = TcpListener::bind(SocketAddr::new(bind, port)).await?;
    let closed = CancellationToken::new();
    let stop = closed.clone();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                () = stop.cancelled() => return,
            };
            match accepted {
                Ok((client, _)) => {
                    tokio::spawn(serve(client, targets.clone(), stop.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a service port could not accept");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    });
    Ok(Proxy { port, closed })
}

/// Counts a connection on its instance while it lives.
struct Serving(Arc<Instance>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Hands `client` to a ready instance and copies both ways until either
/// side closes.
async fn serve(client: TcpStream, targets: Arc<Targets>, closed: CancellationToken) {
    let _ = client.set_nodelay(true);
    let deadline = tokio::time::Instant::now() + NO_TARGET_WAIT;
    let (upstream, serving) = loop {
        let pause = match targets.pick() {
            Some(serving) => {
                match TcpStream::connect(("127.0.0.1", serving.0.port)).await {
                    Ok(s) => break (s, serving),
                    // It went away meanwhile: the next one, at once.
                    Err(_) => Duration::from_millis(1),
                }
            }
            None => Duration::from_millis(10),
        };
        if tokio::time::Instant::now() >= deadline || closed.is_cancelled() {
            return;
        }
        tokio::time::sleep(pause).await;
    };
    let _ = upstream.set_nodelay(true);
    // The bytes are copied by two blocking threads, one per direction: a
    // request and its answer then cost the proxy a read and a write each,
    // as they cost the instance, without a trip through the async
    // reactor (a quarter of the throughput, measured: docs/benchmarks.md).
    let (Ok(client), Ok(upstream)) = (client.into_std(), upstream.into_std()) else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("service-proxy".to_owned())
        .stack_size(COPY_STACK)
        .spawn(move || pipe_both(client, upstream, serving));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "a service connection could not be served");
    }
}

/// The stack of a copying thread (it holds one buffer and little else).
const COPY_STACK: usize = 128 * 1024;

/// Copies both ways between `client` and `upstream` until both directions
/// are done, each end told when the other has no more to send.
fn pipe_both(client: std::net::TcpStream, upstream: std::net::TcpStream, serving: Serving) {
    use std::net::Shutdown;
    let _ = client.set_nonblocking(false);
    let _ = upstream.set_nonblocking(false);
    let (Ok(mut client_in), Ok(mut upstream_out)) = (client.try_clone(), upstream.try_clone())
    else {
        return;
    };
    let answers = std::thread::Builder::new()
        .name("service-proxy".to_owned())
        .stack_size(COPY_STACK)
        .spawn(move || {
            let mut upstream_in = upstream;
            let mut client_out = client;
            let _ = std::io::copy(&mut upstream_in, &mut client_out);
            let _ = client_out.shutdown(Shutdown::Write);
        });
    let _ = std::io::copy(&mut client_in, &mut upstream_out);
    let _ = upstream_out.shutdown(Shutdown::Write);
    if let Ok(answers) = answers {
        let _ = answers.join();
    }
    drop(serving);
}
