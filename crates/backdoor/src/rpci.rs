//! GuestRPC (RPCI) commands: what the VMX answers to `vmware-rpctool` and
//! `vmtoolsd`. Replies start with "1 " on success and "0 " on failure.

use crate::guestinfo::{GuestInfo, GUESTINFO_PREFIX};
use crate::guestlib;
use crate::nicinfo::{self, NicInfoError, NicReport};
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

/// Standard failure replies (the texts VMware's VMX, and QEMU's vmport
/// GuestRPC, use).
pub const REPLY_UNKNOWN_COMMAND: &[u8] = b"0 Unknown command";
pub const REPLY_NO_VALUE: &[u8] = b"0 No value found";
pub const REPLY_OK: &[u8] = b"1 ";

/// How many capability / guest reports and log lines are kept, and how long
/// each may be; the oldest goes first.
pub const MAX_REPORTS: usize = 32;
pub const MAX_LOG_LINES: usize = 32;
pub const MAX_RECORD_LEN: usize = 1024;

/// What the guest tools told the VM about themselves.
#[derive(Clone, Debug, Default)]
pub struct ToolsState {
    /// `tools.set.version <n>`, or the first number of
    /// `tools.set.versiontype <n> <type>` (what vmtoolsd 12 sends).
    pub version: Option<u32>,
    /// The second number of `tools.set.versiontype` (see [`tools_type_name`]).
    pub version_type: Option<u32>,
    /// `tools.capability.*`, `SetGuestInfo ...` and friends, verbatim
    /// (truncated to `MAX_RECORD_LEN`), the latest of each kind (see
    /// `report_kind`): vmtoolsd repeats its guest information every 30 s.
    pub reports: VecDeque<String>,
    /// `log <text>` lines.
    pub log: VecDeque<String>,
    /// The application that answered the TCLO channel's `reset` (`toolbox`:
    /// vmtoolsd's system service).
    pub daemon: Option<String>,
    /// The daemon answered `Capabilities_Register` (its capabilities and
    /// version came in over RPCI).
    pub capabilities_registered: bool,
    /// The last power operation asked of the tools and their answer
    /// (`OS_Halt: OK `).
    pub power_op: Option<String>,
    /// The latest network report (`SetGuestInfo  10 `, see [`nicinfo`]).
    pub network: Option<NicReport>,
    /// Network reports refused, and the last one's reason.
    pub network_refused: u64,
    pub network_error: Option<NicInfoError>,
}

/// `s` cut to at most [`MAX_RECORD_LEN`] bytes on a character boundary.
fn bounded(s: &str) -> String {
    let mut end = s.len().min(MAX_RECORD_LEN);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    String::from(&s[..end])
}

fn push_bounded(q: &mut VecDeque<String>, cap: usize, s: &str) {
    if q.len() >= cap {
        q.pop_front();
    }
    q.push_back(bounded(s));
}

/// What a newer report of the same kind replaces: the command, and for
/// `SetGuestInfo` also the information type (`SetGuestInfo  7 ...`: uptime).
fn report_kind(report: &str) -> (&str, &str) {
    let (cmd, args) = report.split_once(' ').unwrap_or((report, ""));
    match cmd {
        "SetGuestInfo" => (cmd, args.split_whitespace().next().unwrap_or("")),
        _ => (cmd, ""),
    }
}

/// Records `report`, replacing the one of the same kind if there is one.
fn record_report(q: &mut VecDeque<String>, report: &str) {
    let kind = report_kind(report);
    match q.iter_mut().find(|r| report_kind(r) == kind) {
        Some(old) => *old = bounded(report),
        None => push_bounded(q, MAX_REPORTS, report),
    }
}

/// Commands vmtoolsd reports at start that Aerie records and acknowledges
/// (`vmx.capability.unified_loop <app>` asks whether the VMX routes both
/// tools services' options through one loop; Aerie sends no options, so
/// agreeing changes nothing).
fn is_report(cmd: &str) -> bool {
    cmd.starts_with("tools.capability.")
        || matches!(
            cmd,
            "SetGuestInfo"
                | "vmx.capability.unified_loop"
                | "tools.os.statechange.status"
                | "tools.os.statename"
                | "tools.os.setstate"
                | "guest.upgrader_send_cmd_line_args"
        )
}

/// What a `tools.set.versiontype` type number means (open-vm-tools'
/// `vm_tools_version.h`: how the tools were installed).
pub fn tools_type_name(t: u32) -> &'static str {
    match t {
        1 => "msi",
        2 => "tar",
        3 => "osp",
        4 => "open-vm-tools",
        _ => "unknown type",
    }
}

fn reply_with(prefix: &[u8], text: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(prefix.len() + text.len());
    v.extend_from_slice(prefix);
    v.extend_from_slice(text.as_bytes());
    v
}

/// Serves one RPCI request and returns the reply bytes. `facts` gives the
/// Guest API's statistics, asked only for a `guestlib.info.get`.
pub fn dispatch(
    request: &[u8],
    info: &mut GuestInfo,
    tools: &mut ToolsState,
    facts: impl FnOnce() -> guestlib::Facts,
) -> Vec<u8> {
    // The network report is binary (XDR, whose zero words may end it), so
    // it is taken before the text commands and their NUL trimming.
    if let Some(body) = nicinfo::body(request) {
        return network_report(body, tools);
    }
    // rpcout sends the bare string; some callers append NULs.
    let mut end = request.len();
    while end > 0 && request[end - 1] == 0 {
        end -= 1;
    }
    let Ok(text) = core::str::from_utf8(&request[..end]) else {
        return Vec::from(REPLY_UNKNOWN_COMMAND);
    };
    let (cmd, args) = match text.split_once(' ') {
        Some((c, a)) => (c, a),
        None => (text, ""),
    };
    match cmd {
        "info-get" => {
            let key = args.trim_end();
            if !key.starts_with(GUESTINFO_PREFIX) {
                return Vec::from(REPLY_NO_VALUE);
            }
            match info.get(key) {
                Some(v) => reply_with(b"1 ", v),
                None => Vec::from(REPLY_NO_VALUE),
            }
        }
        "info-set" => {
            // "info-set guestinfo.<key> <value>": the value is everything
            // after the first space following the key (it may hold spaces).
            let (key, value) = args.split_once(' ').unwrap_or((args, ""));
            match info.set(key, value) {
                Ok(()) => Vec::from(REPLY_OK),
                // Error text is Aerie's own (VMware's exact wording unknown).
                Err(e) => reply_with(b"0 ", &alloc::format!("{e}")),
            }
        }
        "tools.set.versiontype" => {
            let mut numbers = args.split_whitespace().map(str::parse::<u32>);
            match (numbers.next(), numbers.next(), numbers.next()) {
                (Some(Ok(v)), Some(Ok(t)), None) => {
                    tools.version = Some(v);
                    tools.version_type = Some(t);
                    Vec::from(REPLY_OK)
                }
                _ => Vec::from(&b"0 Invalid version"[..]),
            }
        }
        "tools.set.version" => match args.trim().parse::<u32>() {
            Ok(v) => {
                tools.version = Some(v);
                Vec::from(REPLY_OK)
            }
            Err(_) => Vec::from(&b"0 Invalid version"[..]),
        },
        guestlib::COMMAND => guestlib::reply(args, &facts()),
        "log" => {
            push_bounded(&mut tools.log, MAX_LOG_LINES, args);
            Vec::from(REPLY_OK)
        }
        c if is_report(c) => {
            record_report(&mut tools.reports, text);
            Vec::from(REPLY_OK)
        }
        _ => Vec::from(REPLY_UNKNOWN_COMMAND),
    }
}

/// Keeps a network report, or counts it refused; the reply says which.
fn network_report(body: &[u8], tools: &mut ToolsState) -> Vec<u8> {
    match nicinfo::decode(body) {
        Ok(report) => {
            tools.network = Some(report);
            Vec::from(REPLY_OK)
        }
        Err(e) => {
            tools.network_refused += 1;
            tools.network_error = Some(e);
            reply_with(b"0 ", &alloc::format!("{e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(req: &str, info: &mut GuestInfo, tools: &mut ToolsState) -> String {
        String::from_utf8(dispatch(
            req.as_bytes(),
            info,
            tools,
            guestlib::Facts::default,
        ))
        .unwrap()
    }

    #[test]
    fn info_set_then_get_keeps_spaces_in_value() {
        let (mut i, mut t) = (GuestInfo::new(), ToolsState::default());
        assert_eq!(
            run("info-set guestinfo.greeting hello world", &mut i, &mut t),
            "1 "
        );
        assert_eq!(
            run("info-get guestinfo.greeting", &mut i, &mut t),
            "1 hello world"
        );
        assert_eq!(
            run("info-get guestinfo.nope", &mut i, &mut t),
            "0 No value found"
        );
    }

    #[test]
    fn info_set_outside_guestinfo_fails() {
        let (mut i, mut t) = (GuestInfo::new(), ToolsState::default());
        assert!(run("info-set vmx.foo 1", &mut i, &mut t).starts_with("0 "));
        assert_eq!(run("info-get vmx.foo", &mut i, &mut t), "0 No value found");
    }

    #[test]
    fn tools_version_log_capabilities() {
        let (mut i, mut t) = (GuestInfo::new(), ToolsState::default());
        assert_eq!(run("tools.set.version 12389", &mut i, &mut t), "1 ");
        assert_eq!(t.version, Some(12389));
        assert!(run("tools.set.version abc", &mut i, &mut t).starts_with("0 "));
        // vmtoolsd 12's form: version and installation type.
        assert_eq!(run("tools.set.versiontype 12352 4", &mut i, &mut t), "1 ");
        assert_eq!((t.version, t.version_type), (Some(12352), Some(4)));
        assert_eq!(tools_type_name(4), "open-vm-tools");
        for bad in ["", "12352", "12352 x", "12352 4 5"] {
            let req = alloc::format!("tools.set.versiontype {bad}");
            assert!(run(&req, &mut i, &mut t).starts_with("0 "), "{req}");
        }
        assert_eq!(t.version, Some(12352));
        assert_eq!(run("log hello from guest", &mut i, &mut t), "1 ");
        assert_eq!(t.log.back().map(String::as_str), Some("hello from guest"));
        assert_eq!(
            run("tools.capability.hgfs_server toolbox 1", &mut i, &mut t),
            "1 "
        );
        assert_eq!(run("SetGuestInfo  4 x", &mut i, &mut t), "1 ");
        assert_eq!(t.reports.len(), 2);
        assert_eq!(t.reports[0], "tools.capability.hgfs_server toolbox 1");
    }

    #[test]
    fn unknown_and_garbage() {
        let (mut i, mut t) = (GuestInfo::new(), ToolsState::default());
        assert_eq!(run("frobnicate", &mut i, &mut t), "0 Unknown command");
        assert_eq!(
            dispatch(&[0xff, 0xfe], &mut i, &mut t, guestlib::Facts::default),
            REPLY_UNKNOWN_COMMAND
        );
        assert_eq!(
            dispatch(b"", &mut i, &mut t, guestlib::Facts::default),
            REPLY_UNKNOWN_COMMAND
        );
        // A trailing NUL is not part of the command.
        assert_eq!(
            dispatch(b"log x\0", &mut i, &mut t, guestlib::Facts::default),
            REPLY_OK
        );
    }

    #[test]
    fn records_are_bounded() {
        let (mut i, mut t) = (GuestInfo::new(), ToolsState::default());
        for n in 0..(MAX_LOG_LINES + 5) {
            run(&alloc::format!("log {n}"), &mut i, &mut t);
        }
        assert_eq!(t.log.len(), MAX_LOG_LINES);
        assert_eq!(t.log[0], "5");
        let long = alloc::format!("log {}", "é".repeat(MAX_RECORD_LEN));
        run(&long, &mut i, &mut t);
        assert!(t.log.back().unwrap().len() <= MAX_RECORD_LEN);
    }

    #[test]
    fn a_newer_report_of_the_same_kind_replaces_the_older() {
        let (mut i, mut t) = (GuestInfo::new(), ToolsState::default());
        for r in [
            "tools.capability.statechange ",
            "SetGuestInfo  7 100",
            "SetGuestInfo  4 vmtools",
            "tools.capability.features 0=1",
            "SetGuestInfo  7 130",
            "tools.capability.features 0=1 1=1",
        ] {
            assert_eq!(run(r, &mut i, &mut t), "1 ");
        }
        assert_eq!(
            t.reports,
            [
                "tools.capability.statechange ",
                "SetGuestInfo  7 130",
                "SetGuestInfo  4 vmtools",
                "tools.capability.features 0=1 1=1",
            ]
        );
        // A daemon running for hours keeps its capabilities in view.
        for n in 0..1000 {
            run(&alloc::format!("SetGuestInfo  7 {n}"), &mut i, &mut t);
        }
        assert_eq!(t.reports.len(), 4);
        assert_eq!(t.reports[0], "tools.capability.statechange ");
    }
}
