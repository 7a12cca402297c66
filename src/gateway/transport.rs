//! The frontend's gRPC connection to BuildKit: HTTP/2 with prior knowledge over the process's own
//! stdin (replies) and stdout (requests). BuildKit serves the LLBBridge on that pipe pair.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bollard_buildkit_proto::moby::buildkit::v1::frontend::llb_bridge_client::LlbBridgeClient;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tonic::transport::{Channel, Endpoint, Uri};
use tower::service_fn;

/// BuildKit's own client allows 16 MiB messages; tonic's default decode limit is 4 MiB.
const MAX_MESSAGE: usize = 16 << 20;

trait Stdio: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stdio for T {}

pub type Client = LlbBridgeClient<Channel>;
type StdioSlot = Arc<Mutex<Option<Pin<Box<dyn Stdio>>>>>;

pub async fn connect() -> io::Result<Client> {
    let slot: StdioSlot = Arc::new(Mutex::new(Some(stdio()?)));
    let channel = Endpoint::from_static("http://localhost")
        .connect_with_connector(service_fn(move |_: Uri| {
            let slot = slot.clone();
            async move {
                // One pipe pair, one connection: a reconnect has nothing to connect to.
                let io = slot
                    .lock()
                    .map_err(|_| io::Error::other("stdio lock poisoned"))?
                    .take()
                    .ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::NotConnected,
                            "the BuildKit connection on stdio is gone",
                        )
                    })?;
                Ok::<_, io::Error>(TokioIo::new(io))
            }
        }))
        .await
        .map_err(io::Error::other)?;
    Ok(LlbBridgeClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE))
}

/// Non-blocking pipes when stdin/stdout are FIFOs (as under BuildKit): tokio's stdin reads on a
/// blocking thread that cannot be cancelled, which was seen to hang the exit. Anything else (a
/// terminal, a test harness's socket) falls back to tokio's stdio.
fn stdio() -> io::Result<Pin<Box<dyn Stdio>>> {
    let is_fifo = |fd: std::os::fd::BorrowedFd<'_>| -> io::Result<bool> {
        let file = std::fs::File::from(fd.try_clone_to_owned()?);
        Ok(file.metadata()?.file_type().is_fifo())
    };
    let stdin = io::stdin();
    let stdout = io::stdout();
    if is_fifo(stdin.as_fd())? && is_fifo(stdout.as_fd())? {
        let rx =
            tokio::net::unix::pipe::Receiver::from_owned_fd(stdin.as_fd().try_clone_to_owned()?)?;
        let tx =
            tokio::net::unix::pipe::Sender::from_owned_fd(stdout.as_fd().try_clone_to_owned()?)?;
        Ok(Box::pin(tokio::io::join(rx, tx)))
    } else {
        Ok(Box::pin(tokio::io::join(
            tokio::io::stdin(),
            tokio::io::stdout(),
        )))
    }
}
