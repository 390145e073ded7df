use super::fixtures::*;

#[test]
fn concurrent_writes_from_eight_threads_all_land() {
    let (_temp, store) = temp_store();
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let store = &store;
            scope.spawn(move || {
                for i in 0..20 {
                    // Half share one serial directory, half get their own.
                    let serial = if i % 2 == 0 {
                        "SHARED".to_string()
                    } else {
                        format!("SN-{thread}")
                    };
                    store.write(&sample_record(&serial, i)).unwrap();
                }
            });
        }
    });
    let all = store.all().unwrap();
    assert!(all.problems.is_empty());
    assert_eq!(all.records.len(), 160);
    assert_eq!(store.history("SHARED").unwrap().records.len(), 80);
    assert_eq!(store.cleanup_temp_files().unwrap(), 0);
    let verification = store.verify_chain(None, None).unwrap();
    assert!(
        verification.problems.is_empty(),
        "{:?}",
        verification.problems
    );
    assert_eq!(verification.entries, 161);
}
