use super::*;

#[test]
fn rdp_bytes() {
    assert_eq!(rdp_level(0xFFEF_F8AA), 0);
    assert_eq!(rdp_level(0xFFEF_F8CC), 2);
    assert_eq!(rdp_level(0xFFEF_F8BB), 1);
    assert_eq!(rdp_level(0xFFEF_F800), 1);
}
