// The library stands in for the system's libusb-1.0: give it that soname, so the dynamic
// loader and `ldd` name it as programs linked against libusb expect.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libusb-1.0.so.0");
}
