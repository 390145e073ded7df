//! `station sim serve` and its controls: the served units are switched, cut and kept across
//! client processes and servers, over the wire protocol as libusb-sim speaks it.

mod common;

use std::path::{Path, PathBuf};

use common::bench_server::{BenchServer, command_ok, status};
use sim_wire::{Reply, Request};

/// A station with one blank F407 whose product reaches the ST ROM by the BOOT0 strap.
fn rom_station(dir: &Path) -> PathBuf {
    let rom = common::sim_fixture(
        "rom",
        "profiles/zoo/st-rom-boot0.toml",
        "SERVE-1",
        "serve-1",
        r#"family = "f4", part = "STM32F407VG", seed = 31"#,
    );
    common::write_station(dir, "serve.toml", &[rom])
}

fn get_device_descriptor(handle: u32) -> Request {
    Request::Control {
        handle,
        request_type: 0x80,
        request: 6,
        value: 0x0100,
        index: 0,
        length: 18,
        data: vec![],
        timeout_ms: 1000,
    }
}

#[test]
fn a_served_unit_is_switched_cut_and_kept_across_servers() {
    let tmp = tempfile::tempdir().unwrap();
    let station = rom_station(tmp.path());
    let server = BenchServer::start(&station, tmp.path(), "realtime");
    let s = status(&server, "rom");
    assert_eq!(
        (&s["powered"], &s["on_usb"]),
        (&true.into(), &false.into()),
        "{s}"
    );
    assert!(
        s["firmware"].as_str().unwrap().contains("hard fault"),
        "{s}"
    );

    command_ok(&server.sim(&["power", "cycle", "--fixture", "rom", "--boot0", "high"]));
    let s = status(&server, "rom");
    assert_eq!(s["on_usb"], true, "{s}");
    assert_eq!(s["dfu_state"], 2, "dfuIDLE: {s}");

    let mut client = server.client();
    let Ok(Reply::Devices(devices)) = client.call(&Request::List) else {
        panic!("no device list")
    };
    assert_eq!(devices.len(), 1);
    let d = &devices[0];
    assert_eq!(
        (d.fixture.as_str(), d.bus, d.ports.as_slice()),
        ("rom", 1, &[1][..])
    );
    assert_eq!(&d.device[8..12], &[0x83, 0x04, 0x11, 0xdf], "0483:df11");
    let Ok(Reply::Opened { handle }) = client.call(&Request::Open {
        index: d.index,
        session: d.session,
    }) else {
        panic!("cannot open")
    };
    let before = status(&server, "rom")["usb_requests"].as_u64().unwrap();
    assert_eq!(
        client.call(&get_device_descriptor(handle)),
        Ok(Reply::Data(d.device.clone())),
        "the descriptor read over the pipe is the enumerated one"
    );
    assert_eq!(status(&server, "rom")["usb_requests"], before + 1);

    let armed = command_ok(&server.sim(&["cut", "--fixture", "rom", "--at-request", "2"]));
    assert!(
        armed.contains(&format!("USB request {}", before + 3)),
        "{armed}"
    );
    assert!(client.call(&get_device_descriptor(handle)).is_ok());
    assert_eq!(
        client.call(&get_device_descriptor(handle)),
        Err(station::serve::CallError::Failed(
            "the USB device disappeared (NoDevice)".into()
        )),
        "the second request from the arming met the cut"
    );
    let s = status(&server, "rom");
    assert_eq!(
        (&s["powered"], &s["on_usb"]),
        (&false.into(), &false.into()),
        "{s}"
    );
    assert_eq!(
        client
            .call(&Request::Open {
                index: d.index,
                session: d.session,
            })
            .unwrap_err(),
        station::serve::CallError::Failed("rom is not on USB (NoDevice)".into())
    );
    server.stop();

    // A new server finds the unit as the cut left it: off, strapped for the ROM.
    let server = BenchServer::start(&station, tmp.path(), "realtime");
    let s = status(&server, "rom");
    assert_eq!(
        (&s["powered"], &s["boot0"]),
        (&false.into(), &true.into()),
        "{s}"
    );
    command_ok(&server.sim(&["power", "on", "--fixture", "rom"]));
    let s = status(&server, "rom");
    assert_eq!(s["on_usb"], true, "{s}");
    let Ok(Reply::Devices(again)) = server.client().call(&Request::List) else {
        panic!("no device list")
    };
    assert_ne!(
        again[0].session, d.session,
        "a new enumeration is a new session"
    );
}

#[test]
fn a_unit_another_process_replaced_is_taken_in() {
    let tmp = tempfile::tempdir().unwrap();
    let station = rom_station(tmp.path());
    let server = BenchServer::start(&station, tmp.path(), "virtual");
    command_ok(&server.sim(&["power", "cycle", "--fixture", "rom", "--boot0", "high"]));
    let first = status(&server, "rom");
    assert_eq!(first["on_usb"], true);
    command_ok(
        &common::station()
            .args(["sim", "reset", "--station"])
            .arg(&station)
            .args(["--fixture", "rom"])
            .output()
            .unwrap(),
    );
    let fresh = status(&server, "rom");
    assert_ne!(fresh["unit"], first["unit"], "a fresh unit: {fresh}");
    assert_eq!(
        (&fresh["boot0"], &fresh["on_usb"]),
        (&false.into(), &false.into())
    );
}

#[test]
fn mistakes_are_named_with_what_was_expected() {
    let tmp = tempfile::tempdir().unwrap();
    let station = rom_station(tmp.path());
    let server = BenchServer::start(&station, tmp.path(), "virtual");
    let out = server.sim(&["cut", "--fixture", "nope", "--now"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no simulated fixture \"nope\" is served; serving rom"),
        "{err}"
    );
    let out = server.sim(&["cut", "--fixture", "rom", "--at-op", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("counts from 1"));
    let mut client = server.client();
    assert!(matches!(
        client.call(&Request::Control {
            handle: 99,
            request_type: 0x80,
            request: 6,
            value: 0x100,
            index: 0,
            length: 18,
            data: vec![],
            timeout_ms: 0
        }),
        Err(station::serve::CallError::Invalid(m)) if m == "no handle 99"
    ));
    drop(server);

    let out = common::station()
        .args(["sim", "status", "--socket"])
        .arg(tmp.path().join("none.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("none.sock") && err.contains("station sim serve"),
        "{err}"
    );
}
