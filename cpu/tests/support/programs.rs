//! Hand-assembled test programs (generated with llvm-mc from the source in comments).

// thumbv7em:
//     movs r0, #0
//     subs r1, r0, #1
//     bkpt #1
//     mvn r2, #0x80000000
//     adds r3, r2, #1
//     bkpt #2
//     movs r4, #1
//     rsbs r4, r4, #0
//     adds r5, r4, #1
//     bkpt #3
//     adcs r6, r0
//     bkpt #4
//     subs r7, r0, #0
//     sbcs r7, r0
//     bkpt #5
//     cmp r0, #1
//     sbcs r7, r0
//     bkpt #6
pub const FLAGS: &[u16] = &[
    0x2000, 0x1E41, 0xBE01, 0xF06F, 0x4200, 0x1C53, 0xBE02, 0x2401, 0x4264, 0x1C65, 0xBE03, 0x4146,
    0xBE04, 0x1E07, 0x4187, 0xBE05, 0x2801, 0x4187, 0xBE06,
];

// thumbv7em:
//     movs r0, #3
//     lsrs r1, r0, #1
//     bkpt #1
//     movs r0, #1
//     lsls r1, r0, #31
//     bkpt #2
//     lsls r2, r1, #1
//     bkpt #3
//     movw r1, #1
//     movt r1, #0x8000
//     movs r3, #32
//     lsrs.w r4, r1, r3
//     bkpt #4
//     asrs.w r5, r1, r3
//     bkpt #5
//     movs r3, #33
//     lsls.w r6, r1, r3
//     bkpt #6
//     ands r0, r1, #0x80000000
//     bkpt #7
//     movs r0, #0
//     rrxs r0, r1
//     bkpt #8
pub const SHIFTS: &[u16] = &[
    0x2003, 0x0841, 0xBE01, 0x2001, 0x07C1, 0xBE02, 0x004A, 0xBE03, 0xF240, 0x0101, 0xF2C8, 0x0100,
    0x2320, 0xFA31, 0xF403, 0xBE04, 0xFA51, 0xF503, 0xBE05, 0x2321, 0xFA11, 0xF603, 0xBE06, 0xF011,
    0x4000, 0xBE07, 0x2000, 0xEA5F, 0x0031, 0xBE08,
];

// thumbv7em:
//     movs r0, #1
//     movs r5, #0
//     cmp r0, #1
//     ite eq
//     moveq r1, #10
//     movne r1, #20
//     itt ne
//     movne r2, #7
//     movne r3, #7
//     it eq
//     subeq r5, r5, #1
//     bkpt #1
//     cmp r0, #2
//     itete lt
//     movlt r6, #1
//     movge r6, #2
//     addlt r7, r0, #3
//     addge r7, r0, #4
//     bkpt #2
pub const IT: &[u16] = &[
    0x2001, 0x2500, 0x2801, 0xBF0C, 0x210A, 0x2114, 0xBF1C, 0x2207, 0x2307, 0xBF08, 0x1E6D, 0xBE01,
    0x2802, 0xBFB5, 0x2601, 0x2602, 0x1CC7, 0x1D07, 0xBE02,
];

// thumbv7em:
//     movw r0, #0x100
//     movt r0, #0x2000
//     movs r1, #1
//     movs r2, #2
//     movs r3, #3
//     stmia r0!, {r1, r2, r3}
//     subs r0, #12
//     ldmia r0!, {r4, r5, r6}
//     mov r7, r0
//     subs r0, #12
//     ldmia r0, {r0, r1}
//     bkpt #1
//     movw r0, #0x200
//     movt r0, #0x2000
//     movs r1, #7
//     movs r2, #8
//     movs r3, #9
//     stmdb r0!, {r1, r2, r3}
//     ldmia.w r0, {r8, r9, r10}
//     ldmdb r0!, {r4, r5}
//     bkpt #2
//     push {r1, r2, lr}
//     pop {r4, r5, r6}
//     push.w {r8, r9}
//     pop.w {r10, r11}
//     bkpt #3
pub const LDM_STM: &[u16] = &[
    0xF240, 0x1000, 0xF2C2, 0x0000, 0x2101, 0x2202, 0x2303, 0xC00E, 0x380C, 0xC870, 0x4607, 0x380C,
    0xC803, 0xBE01, 0xF240, 0x2000, 0xF2C2, 0x0000, 0x2107, 0x2208, 0x2309, 0xE920, 0x000E, 0xE890,
    0x0700, 0xE930, 0x0030, 0xBE02, 0xB506, 0xBC70, 0xE92D, 0x0300, 0xE8BD, 0x0C00, 0xBE03,
];

// thumbv7em:
//     movw r0, #0x300
//     movt r0, #0x2000
//     movw r1, #0x1234
//     movt r1, #0x8765
//     str r1, [r0, #4]!
//     ldr r2, [r0], #8
//     ldrh r3, [r0, #-6]
//     ldrsh r4, [r0, #-6]
//     ldrsb r5, [r0, #-5]
//     ldrb r6, [r0, #-5]
//     movs r7, #2
//     ldr.w r8, [r0, r7, lsl #1]
//     strd r1, r1, [r0, #8]
//     ldrd r9, r10, [r0, #8]
//     ldr r11, lit
//     bkpt #1
//     movs r1, #0xAA
//     strb r1, [r0, #1]
//     ldr r12, [r0]
//     bkpt #2
//     ldr r2, [r0, #1]
//     bkpt #3
//     .align 2
//     lit: .word 0xCAFEF00D
pub const LDST_FORMS: &[u16] = &[
    0xF240, 0x3000, 0xF2C2, 0x0000, 0xF241, 0x2134, 0xF2C8, 0x7165, 0xF840, 0x1F04, 0xF850, 0x2B08,
    0xF830, 0x3C06, 0xF930, 0x4C06, 0xF910, 0x5C05, 0xF810, 0x6C05, 0x2702, 0xF850, 0x8017, 0xE9C0,
    0x1102, 0xE9D0, 0x9A02, 0xF8DF, 0xB014, 0xBE01, 0x21AA, 0x7041, 0xF8D0, 0xC000, 0xBE02, 0xF8D0,
    0x2001, 0xBE03, 0xF00D, 0xCAFE,
];

// thumbv7em:
//     movw r0, #0x400
//     movt r0, #0x2000
//     movs r1, #5
//     str r1, [r0]
//     ldrex r2, [r0]
//     adds r2, #1
//     strex r3, r2, [r0]
//     strex r4, r2, [r0]
//     ldrex r5, [r0]
//     clrex
//     strex r6, r1, [r0]
//     ldr r7, [r0]
//     bkpt #1
pub const EXCL: &[u16] = &[
    0xF240, 0x4000, 0xF2C2, 0x0000, 0x2105, 0x6001, 0xE850, 0x2F00, 0x3201, 0xE840, 0x2300, 0xE840,
    0x2400, 0xE850, 0x5F00, 0xF3BF, 0x8F2F, 0xE840, 0x1600, 0x6807, 0xBE01,
];

// thumbv7em:
//     movs r0, #0
//     movs r4, #2
//     cbz r0, 1f
//     movs r0, #99
//     1:
//     bl func
//     tbb [pc, r4]
//     tb: .byte 0, 1, 2
//     .align 1
//     movs r2, #1
//     movs r2, #2
//     movs r2, #3
//     adr r3, target
//     adds r3, #1
//     blx r3
//     bkpt #1
//     func:
//     adds r0, #5
//     bx lr
//     target:
//     adds r0, #10
//     bx lr
pub const BRANCHES: &[u16] = &[
    0x2000, 0x2402, 0xB100, 0x2063, 0xF000, 0xF80C, 0xE8DF, 0xF004, 0x0100, 0x0002, 0x2201, 0x2202,
    0x2203, 0xF20F, 0x030C, 0x3301, 0x4798, 0xBE01, 0x3005, 0x4770, 0x300A, 0x4770,
];

// thumbv7em:
//     movs r0, #100
//     movs r1, #7
//     udiv r2, r0, r1
//     sdiv r3, r0, r1
//     movs r1, #0
//     udiv r4, r0, r1
//     mvn r5, #0
//     movs r6, #3
//     umull r7, r8, r5, r6
//     smull r9, r10, r5, r6
//     mls r11, r6, r6, r0
//     bkpt #1
pub const DIVMUL: &[u16] = &[
    0x2064, 0x2107, 0xFBB0, 0xF2F1, 0xFB90, 0xF3F1, 0x2100, 0xFBB0, 0xF4F1, 0xF06F, 0x0500, 0x2603,
    0xFBA5, 0x7806, 0xFB85, 0x9A06, 0xFB06, 0x0B16, 0xBE01,
];

// thumbv7em:
//     movw r0, #0x7fff
//     movt r0, #0x7fff
//     qadd r1, r0, r0
//     bkpt #1
//     movw r2, #0x0180
//     ssat r3, #8, r2
//     bkpt #2
//     movw r0, #0x80ff
//     movt r0, #0x01ff
//     movw r1, #0x0001
//     movt r1, #0x0180
//     uadd8 r2, r0, r1
//     sel r3, r0, r1
//     bkpt #3
//     usat r4, #4, r1
//     sxtb16 r5, r0
//     uxtab r6, r1, r0, ror #8
//     smulbb r7, r0, r1
//     smlad r8, r0, r1, r7
//     rbit r9, r1
//     clz r10, r1
//     rev16 r11, r0
//     bkpt #4
pub const DSP: &[u16] = &[
    0xF647, 0x70FF, 0xF6C7, 0x70FF, 0xFA80, 0xF180, 0xBE01, 0xF240, 0x1280, 0xF302, 0x0307, 0xBE02,
    0xF248, 0x00FF, 0xF2C0, 0x10FF, 0xF240, 0x0101, 0xF2C0, 0x1180, 0xFA80, 0xF241, 0xFAA0, 0xF381,
    0xBE03, 0xF381, 0x0404, 0xFA2F, 0xF580, 0xFA51, 0xF690, 0xFB10, 0xF701, 0xFB20, 0x7801, 0xFA91,
    0xF9A1, 0xFAB1, 0xFA81, 0xFA90, 0xFB90, 0xBE04,
];

// thumbv7em:
//     movw r0, #0x5678
//     movt r0, #0x1234
//     mov r1, #0xF
//     bfi r0, r1, #4, #8
//     ubfx r2, r0, #4, #8
//     sbfx r3, r0, #4, #8
//     bfc r0, #28, #4
//     bkpt #1
pub const BFI: &[u16] = &[
    0xF245, 0x6078, 0xF2C1, 0x2034, 0xF04F, 0x010F, 0xF361, 0x100B, 0xF3C0, 0x1207, 0xF340, 0x1307,
    0xF36F, 0x701F, 0xBE01,
];

// thumbv7em:
//     movs r0, #0x11
//     movs r1, #0x22
//     movs r2, #0x33
//     movs r3, #0x44
//     mov r12, r3
//     movs r4, #0
//     cmp r4, r4
//     svc #5
//     bkpt #1
pub const SVC_MAIN: &[u16] = &[
    0x2011, 0x2122, 0x2233, 0x2344, 0x469C, 0x2400, 0x42A4, 0xDF05, 0xBE01,
];

// thumbv7em:
//     movs r0, #0
//     movs r1, #0
//     movs r2, #0
//     movs r3, #0
//     subs r3, #1
//     mrs r4, ipsr
//     mov r5, lr
//     bkpt #2
//     bx lr
pub const SVC_HANDLER: &[u16] = &[
    0x2000, 0x2100, 0x2200, 0x2300, 0x3B01, 0xF3EF, 0x8405, 0x4675, 0xBE02, 0x4770,
];

// thumbv7em:
//     movs r0, #1
//     udf #0
pub const UDF: &[u16] = &[0x2001, 0xDE00];

// thumbv7em:
//     movs r0, #1
//     vadd.f32 s0, s0, s0
pub const VFP: &[u16] = &[0x2001, 0xEE30, 0x0A00];

// thumbv7em:
//     movw r0, #0xE010
//     movt r0, #0xE000
//     movs r1, #100
//     str r1, [r0, #4]
//     movs r1, #0
//     str r1, [r0, #8]
//     movs r1, #7
//     str r1, [r0]
//     1: b 1b
pub const SYSTICK: &[u16] = &[
    0xF24E, 0x0010, 0xF2CE, 0x0000, 0x2164, 0x6041, 0x2100, 0x6081, 0x2107, 0x6001, 0xE7FE,
];

// thumbv7em:
//     cpsid i
//     nop
//     nop
//     nop
//     cpsie i
//     nop
//     bkpt #1
pub const PRIMASK: &[u16] = &[0xB672, 0xBF00, 0xBF00, 0xBF00, 0xB662, 0xBF00, 0xBE01];

// thumbv7em:
//     movw r0, #0xED0C
//     movt r0, #0xE000
//     movw r1, #0x0004
//     movt r1, #0x05FA
//     str r1, [r0]
//     bkpt #1
pub const RESETREQ: &[u16] = &[
    0xF64E, 0x500C, 0xF2CE, 0x0000, 0xF240, 0x0104, 0xF2C0, 0x51FA, 0x6001, 0xBE01,
];

// thumbv7em:
//     movs r0, #4
//     adr r1, msg
//     bkpt #0xAB
//     adds r0, #1
//     bkpt #1
//     .align 2
//     msg: .asciz "hi"
pub const SEMIHOST: &[u16] = &[
    0x2004, 0xA102, 0xBEAB, 0x3001, 0xBE01, 0xBF00, 0x6968, 0x0000,
];

// thumbv6m:
//     movs r0, #1
//     bl f
//     movs r2, #3
//     mrs r3, primask
//     dmb sy
//     bkpt #1
//     f:
//     adds r0, #1
//     bx lr
pub const V6_PROG: &[u16] = &[
    0x2001, 0xF000, 0xF806, 0x2203, 0xF3EF, 0x8310, 0xF3BF, 0x8F5F, 0xBE01, 0x3001, 0x4770,
];

// thumbv6m:
//     ldr r0, =0x20000001
//     ldr r1, [r0]
//     bkpt #1
pub const V6_UNALIGNED: &[u16] = &[0x4801, 0x6801, 0xBE01, 0x0000, 0x0001, 0x2000];

// thumbv7em:
//     movw r0, #0
//     movt r0, #0x3000
//     ldr r1, [r0]
//     bkpt #1
pub const BUSFAULT: &[u16] = &[0xF240, 0x0000, 0xF2C3, 0x0000, 0x6801, 0xBE01];

// thumbv7em:
//     movw r0, #0x102
//     movt r0, #0x2000
//     ldr r1, [r0]
//     ldm r0, {r2, r3}
pub const UNALIGNED_LDM: &[u16] = &[0xF240, 0x1002, 0xF2C2, 0x0000, 0x6801, 0xE890, 0x000C];

// thumbv7em:
//     1:
//     adds r0, #1
//     subs r1, r1, r0
//     eor r2, r2, r1
//     add r3, r2, r0, lsl #2
//     ands r4, r3, #0xFF
//     orr r5, r4, r0
//     movw r6, #0x1234
//     lsls r7, r6, #3
//     mov r8, r7
//     cmp r0, r8
//     adds r0, #1
//     subs r1, r1, r0
//     eor r2, r2, r1
//     add r3, r2, r0, lsl #2
//     ands r4, r3, #0xFF
//     b 1b
pub const STRAIGHT: &[u16] = &[
    0x3001, 0x1A09, 0xEA82, 0x0201, 0xEB02, 0x0380, 0xF013, 0x04FF, 0xEA44, 0x0500, 0xF241, 0x2634,
    0x00F7, 0x46B8, 0x4540, 0x3001, 0x1A09, 0xEA82, 0x0201, 0xEB02, 0x0380, 0xF013, 0x04FF, 0xE7E7,
];
