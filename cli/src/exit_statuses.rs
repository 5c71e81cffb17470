//! The table of exit statuses in README.md, made from the library's one list of codes
//! (`Code::ALL`), so that it cannot fall behind: a test compares it with the README.

use crate::exit_status;
use ocrcloud::error::Code;

/// What exit status `10 + code` means to a user of the command line. The match has no
/// wildcard: a new code does not compile until it is described here.
fn meaning(code: Code) -> &'static str {
    match code {
        Code::InvalidArgument => {
            "a bad value: settings that are not a JSON object, only one of the two credentials, \
             an id with control characters, a malformed base URL, a file whose operation its \
             extension does not tell (give `--operation`), an unusable `--ca-file` or `--proxy`"
        }
        Code::Network => "the service could not be reached, or the connection broke",
        Code::Timeout => "a request timed out, or `--timeout` passed while the task was not done",
        Code::Http => "the service answered an HTTP error status",
        Code::Unauthorized => "the credentials or the token were refused (401/403)",
        Code::Protocol => "the service's answer is malformed",
        Code::Decode => "a result's base64 data is invalid",
        Code::TaskFailed => "the task ended in `Error`; the message holds the service's reasons",
        Code::TaskNotFound => {
            "the task does not exist (a wrong id, cancelled, or older than 24 hours)"
        }
        Code::NotReady => "`fetch` of a task that is still `Pending` or `Processing`",
        Code::Cancelled => "not used: Ctrl-C dies by SIGINT (130 in a shell), see above",
        Code::TooLarge => "a document or an answer exceeds a size limit",
        Code::Io => {
            "a local file could not be read or written, the output folder is not writable, a \
             result of `run` would replace a file (see `--force`), or stdout failed or is closed"
        }
        Code::Internal => "a bug",
        Code::Tls => {
            "the TLS connection failed: an untrusted certificate (trust its CA with `--ca-file`), \
             an expired one, a name mismatch, a failed handshake"
        }
    }
}

/// The Markdown table of every exit status.
pub fn table() -> String {
    let mut table = String::from(
        "| status | code | meaning |\n|---|---|---|\n| 0 | | success |\n| 2 | | usage error \
         (from the argument parser, which prints the usage) |\n",
    );
    for code in Code::ALL {
        table.push_str(&format!(
            "| {} | `{}` | {} |\n",
            exit_status(code),
            code.name(),
            meaning(code)
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    const BEGIN: &str =
        "<!-- exit statuses: generated from Code::ALL by cli/src/exit_statuses.rs -->\n";
    const END: &str = "<!-- end of the generated exit statuses -->";

    /// The README's table is the generated one (`OCRCLOUD_BLESS=1 cargo test -p ocrcloud-cli
    /// exit_statuses` writes it).
    #[test]
    fn the_readme_lists_every_exit_status_of_the_one_list_of_codes() {
        let readme = std::fs::read_to_string(README).unwrap();
        let start = readme.find(BEGIN).expect("the README marks the table") + BEGIN.len();
        let end = start
            + readme[start..]
                .find(END)
                .expect("the table's end is marked");
        let expected = table();
        if std::env::var_os("OCRCLOUD_BLESS").is_some() {
            let blessed = format!("{}{expected}{}", &readme[..start], &readme[end..]);
            std::fs::write(README, blessed).unwrap();
        } else {
            assert!(
                readme[start..end] == expected,
                "cli/README.md's exit statuses are stale: run `OCRCLOUD_BLESS=1 cargo test -p \
                 ocrcloud-cli exit_statuses`"
            );
        }
        for code in Code::ALL {
            let row = format!("| {} | `{}` |", exit_status(code), code.name());
            assert!(expected.contains(&row), "{row}");
        }
    }

    /// `Code::ALL` holds every code: the values run from 1 without a gap.
    #[test]
    fn the_list_of_codes_is_complete() {
        for (index, code) in Code::ALL.into_iter().enumerate() {
            assert_eq!(code as i32, index as i32 + 1);
        }
        assert_eq!(Code::from_i32(Code::ALL.len() as i32 + 1), None);
    }
}
