# Training layer tests: PersRM loss and gradients, optimizer, synthetic tasks, resume, data, BPE.
pad_test(test_train test_train_loss.cpp test_train_task.cpp)
target_link_libraries(test_train PRIVATE pad_train)
target_precompile_headers(test_train PRIVATE <ATen/ATen.h>)

# Personalization training (issue 12): grouped twins, --init-from, a PersRM that learns to flip its
# preference with the principle on a synthetic task. Seconds.
pad_test(test_persona COST 20 test_persona_train.cpp)
target_link_libraries(test_persona PRIVATE pad_train)
target_precompile_headers(test_persona REUSE_FROM test_train)
