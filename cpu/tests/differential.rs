//! The core against an independent reference: the committed test programs
//! (fixtures/firmware/cpu-tests, built for ARMv7E-M and ARMv6-M) run under QEMU
//! (`mps2-an386` Cortex-M4, `mps2-an500` Cortex-M7, `microbit` Cortex-M0) and under the core;
//! each prints one digest per test over semihosting, and the lines must be the same. Where
//! qemu-system-arm is not installed the core is compared with QEMU's recorded output
//! (fixtures/firmware/cpu-tests/expected), and the test says so.

use std::path::{Path, PathBuf};
use std::process::Command;

use station_cpu::{Arch, Bus, BusError, Cpu, Event, Size};

const FLASH: (u32, usize) = (0x0000_0000, 256 * 1024);
const RAM: (u32, usize) = (0x2000_0000, 16 * 1024);
/// More than the programs need (about 30 million instructions for the ARMv7E-M one).
const BUDGET: u64 = 2_000_000_000;

fn firmware() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/firmware")
}

/// The test programs' memory: code at 0, data at 0x2000_0000, nothing else answers.
struct Memory {
    flash: Vec<u8>,
    ram: Vec<u8>,
}

impl Memory {
    fn slot(&mut self, addr: u32, len: u32) -> Option<&mut [u8]> {
        for (base, mem) in [(FLASH.0, &mut self.flash), (RAM.0, &mut self.ram)] {
            let off = addr.wrapping_sub(base) as usize;
            if addr >= base && off + len as usize <= mem.len() {
                return Some(&mut mem[off..off + len as usize]);
            }
        }
        None
    }
}

fn width(size: Size) -> u32 {
    match size {
        Size::Byte => 1,
        Size::Half => 2,
        Size::Word => 4,
    }
}

impl Bus for Memory {
    fn read(&mut self, addr: u32, size: Size) -> Result<u32, BusError> {
        let bytes = self.slot(addr, width(size)).ok_or(BusError)?;
        let mut v = [0u8; 4];
        v[..bytes.len()].copy_from_slice(bytes);
        Ok(u32::from_le_bytes(v))
    }
    fn write(&mut self, addr: u32, size: Size, value: u32) -> Result<(), BusError> {
        let bytes = self.slot(addr, width(size)).ok_or(BusError)?;
        let n = bytes.len();
        bytes.copy_from_slice(&value.to_le_bytes()[..n]);
        Ok(())
    }
}

/// An ELF32 little-endian executable's PT_LOAD segments, at their physical addresses.
fn load(elf: &[u8], mem: &mut Memory) {
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes([elf[o], elf[o + 1], elf[o + 2], elf[o + 3]]);
    assert_eq!(
        &elf[..6],
        b"\x7fELF\x01\x01",
        "not an ELF32 little-endian file"
    );
    let (phoff, phentsize, phnum) = (u32_at(0x1C) as usize, u16_at(0x2A), u16_at(0x2C));
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32_at(ph) != 1 {
            continue;
        }
        let (offset, paddr, filesz) = (u32_at(ph + 4) as usize, u32_at(ph + 12), u32_at(ph + 16));
        let dest = mem
            .slot(paddr, filesz)
            .unwrap_or_else(|| panic!("segment at {paddr:#x} outside the test memory"));
        dest.copy_from_slice(&elf[offset..offset + filesz as usize]);
    }
}

fn c_string(mem: &mut Memory, mut addr: u32) -> String {
    let mut out = Vec::new();
    while let Ok(b) = mem.read(addr, Size::Byte) {
        if b == 0 || out.len() > 4096 {
            break;
        }
        out.push(b as u8);
        addr += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the program prints under the core, until it exits through semihosting.
fn run_on_core(elf: &Path, arch: Arch) -> String {
    let mut mem = Memory {
        flash: vec![0xFF; FLASH.1],
        ram: vec![0; RAM.1],
    };
    load(&std::fs::read(elf).unwrap(), &mut mem);
    let mut cpu = Cpu::new(arch);
    cpu.reset(&mut mem, 0);
    let mut out = String::new();
    let mut left = BUDGET;
    loop {
        let (event, ran) = cpu.run(&mut mem, left);
        left = left.saturating_sub(ran);
        match event {
            Event::Bkpt(0xAB) => {
                let (op, arg) = (cpu.reg(0), cpu.reg(1));
                match op {
                    0x04 => out.push_str(&c_string(&mut mem, arg)),
                    0x18 => return out,
                    other => panic!("semihosting call {other:#x} not used by the programs"),
                }
                cpu.set_reg(15, cpu.reg(15) + 2);
            }
            Event::None if left == 0 => panic!("no exit within {BUDGET} instructions:\n{out}"),
            Event::None => {}
            other => panic!(
                "the core stopped with {other:?} at pc {:#010x} after:\n{out}",
                cpu.reg(15)
            ),
        }
    }
}

/// QEMU's output for `machine`, run now when qemu-system-arm is installed.
fn run_on_qemu(machine: &str, elf: &Path) -> Option<String> {
    let out = tempfile::NamedTempFile::new().unwrap();
    let status = Command::new("qemu-system-arm")
        .args([
            "-M",
            machine,
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            "none",
        ])
        .arg("-chardev")
        .arg(format!("file,id=semihosting,path={}", out.path().display()))
        .args([
            "-semihosting-config",
            "enable=on,target=native,chardev=semihosting",
        ])
        .arg("-kernel")
        .arg(elf)
        .status()
        .ok()?;
    assert!(
        status.success(),
        "qemu-system-arm -M {machine} failed: {status}"
    );
    Some(std::fs::read_to_string(out.path()).unwrap())
}

fn compare(machine: &str, program: &str, arch: Arch) {
    let elf = firmware().join("bin").join(program);
    let recorded = firmware()
        .join("cpu-tests/expected")
        .join(format!("{machine}.txt"));
    let recorded = std::fs::read_to_string(&recorded).unwrap();
    let reference = match run_on_qemu(machine, &elf) {
        Some(live) => {
            assert_eq!(
                live, recorded,
                "QEMU's output differs from the recording: run fixtures/firmware/cpu-tests/build.sh"
            );
            live
        }
        None => {
            eprintln!(
                "qemu-system-arm is not installed: the core is compared with QEMU's recorded \
                 output for {machine} (QEMU itself did not run)"
            );
            recorded
        }
    };
    let core = run_on_core(&elf, arch);
    let differing: Vec<String> = reference
        .lines()
        .zip(core.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("  QEMU {a}\n  core {b}"))
        .collect();
    assert!(
        differing.is_empty() && reference.lines().count() == core.lines().count(),
        "{machine}: the core differs from QEMU:\n{}\nQEMU printed:\n{reference}\nthe core printed:\n{core}",
        differing.join("\n")
    );
}

#[test]
fn cortex_m4_matches_qemu_mps2_an386() {
    compare("mps2-an386", "cpu-tests-v7em.elf", Arch::V7EM);
}

#[test]
fn cortex_m7_matches_qemu_mps2_an500() {
    compare("mps2-an500", "cpu-tests-v7em.elf", Arch::V7EM);
}

#[test]
fn cortex_m0_matches_qemu_microbit() {
    compare("microbit", "cpu-tests-v6m.elf", Arch::V6M);
}
