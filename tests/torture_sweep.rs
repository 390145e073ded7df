//! The snapshot sweep on several workers gives every point the result one worker gives it.

use std::path::Path;

use station::config::{self, ImageRole};
use station::image::Image;
use station::station::open_unit as fresh;
use station::station::torture::sweep as torture_sweep;
use station::station::torture::{self, CutMode, Plan, PointResult, Setup};

fn image(profile: &config::Profile, name: &str) -> Image {
    let spec = profile.images.iter().find(|i| i.name == name).unwrap();
    config::check::load_pinned_image(profile, spec).unwrap()
}

#[test]
fn parallel_workers_give_each_point_the_result_one_worker_gives() {
    let tmp = tempfile::tempdir().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("stations/zoo.toml");
    let mut station = config::load_station(&path).unwrap();
    station.records_dir = tmp.path().to_path_buf();
    // A design that bricks, so the points' outcomes differ from one another.
    let fixture = station.fixture("naive").unwrap().clone();
    let profile = station.profile_of(&fixture);
    let bootloader = image(profile, &profile.image(ImageRole::Bootloader).unwrap().name);
    let (from, to) = (image(profile, "application"), image(profile, "update"));
    let setup = Setup {
        fixture: &fixture,
        profile,
        bootloader: &bootloader,
        from: &from,
        to: &to,
    };
    let mut hw = fresh::open_unit(&station, &fixture, 1).unwrap();
    let base = torture::prepare(&mut hw, &setup).unwrap();
    let (cal, old, new) = torture::calibrate(base.as_ref(), &setup, &|_| {}).unwrap();
    let points = Plan::Every(3).select(&cal.points(&CutMode::ALL));
    let sweep = |threads: usize| {
        let mut got: Vec<PointResult> = Vec::new();
        torture_sweep::run::<()>(
            base.as_ref(),
            &setup,
            &cal,
            &points,
            (old, new),
            threads,
            &mut |r| {
                got.push(r);
                Ok(true)
            },
        )
        .unwrap();
        got.sort_by_key(|r| r.point);
        got
    };
    let one = sweep(1);
    assert_eq!(one.len(), points.len());
    assert!(one.iter().any(|r| r.bricks()) && one.iter().any(|r| !r.bricks()));
    assert_eq!(sweep(3), one);
    // Told to stop, the sweep starts no new point (the one under way still reports).
    let all = cal.points(&CutMode::ALL);
    let mut seen = 0;
    torture_sweep::run::<()>(
        base.as_ref(),
        &setup,
        &cal,
        &all,
        (old, new),
        1,
        &mut |_| {
            seen += 1;
            Ok(false)
        },
    )
    .unwrap();
    assert!(
        all.len() > 40 && seen < all.len(),
        "{seen} of {}",
        all.len()
    );
}
